-- Free trials (issue 20, point 1). A tier's trial is data: `trial_days` (0: none) and whether a
-- saved default card is needed to start it (`card_required`, as most SaaS do) or not (`no_card`).
-- Operators set them with SQL, like prices (the tier caches are invalidated by the tiers trigger).
ALTER TABLE tiers ADD COLUMN trial_days INT NOT NULL DEFAULT 0 CHECK (trial_days BETWEEN 0 AND 365);
ALTER TABLE tiers ADD COLUMN trial_mode TEXT NOT NULL DEFAULT 'card_required'
    CHECK (trial_mode IN ('card_required', 'no_card'));

-- A trialing subscription's period is its trial: `trial_end` is kept after it converts, so the
-- subscription still says it began with one. `trial_will_end_sent` makes the reminder go once.
ALTER TABLE subscriptions ADD COLUMN trial_end TIMESTAMPTZ;
ALTER TABLE subscriptions ADD COLUMN trial_will_end_sent BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX subscriptions_trial_due ON subscriptions (current_period_end) WHERE status = 'trialing';

-- One trial per user and tier, ever: claimed in the subscribe transaction (INSERT ... ON CONFLICT
-- DO NOTHING), so two concurrent subscribes get one trial between them. Kept when the
-- subscription ends. The subscription is created in the same transaction, after the claim.
CREATE TABLE trial_claims (
    user_id         UUID        NOT NULL,
    tier            TEXT        NOT NULL REFERENCES tiers (code),
    subscription_id UUID        NOT NULL REFERENCES subscriptions (id) DEFERRABLE INITIALLY DEFERRED,
    claimed_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, tier)
);
