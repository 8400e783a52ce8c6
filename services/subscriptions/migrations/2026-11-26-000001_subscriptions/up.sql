-- Plans and what they unlock live in data, not code.
CREATE TABLE tiers (
    code     TEXT          PRIMARY KEY,
    name     TEXT          NOT NULL,
    price    NUMERIC(19,4) NOT NULL CHECK (price >= 0 AND price <> 'NaN'),
    currency CHAR(3)       NOT NULL,
    -- Higher rank = more features; upgrades go up, downgrades down.
    rank     INT           NOT NULL UNIQUE
);
CREATE TABLE tier_features (
    tier    TEXT NOT NULL REFERENCES tiers (code),
    feature TEXT NOT NULL,
    PRIMARY KEY (tier, feature)
);
INSERT INTO tiers VALUES ('free', 'Free', 0, 'USD', 0), ('pro', 'Pro', 9.99, 'USD', 1), ('enterprise', 'Enterprise', 99, 'USD', 2);
INSERT INTO tier_features (tier, feature) VALUES
    ('free', 'courses.free'),
    ('pro', 'courses.free'), ('pro', 'courses.premium_discount'), ('pro', 'downloads.offline'), ('pro', 'certificates'),
    ('enterprise', 'courses.free'), ('enterprise', 'courses.premium_discount'), ('enterprise', 'downloads.offline'),
    ('enterprise', 'certificates'), ('enterprise', 'analytics'), ('enterprise', 'support.priority'),
    ('enterprise', 'team.management');

-- Statuses mirror Stripe's subscription statuses.
CREATE TABLE subscriptions (
    id                     UUID        PRIMARY KEY,
    user_id                UUID        NOT NULL,
    tier                   TEXT        NOT NULL REFERENCES tiers (code),
    status                 TEXT        NOT NULL CHECK (status IN ('incomplete', 'incomplete_expired', 'active', 'past_due', 'canceled')),
    -- Day of month periods are anchored on (1-31), clamped to short months.
    anchor_day             INT         NOT NULL CHECK (anchor_day BETWEEN 1 AND 31),
    current_period_start   TIMESTAMPTZ,
    current_period_end     TIMESTAMPTZ,
    cancel_at_period_end   BOOLEAN     NOT NULL DEFAULT false,
    -- A downgrade waiting for the period end.
    pending_tier           TEXT        REFERENCES tiers (code),
    first_payment_deadline TIMESTAMPTZ NOT NULL,
    past_due_since         TIMESTAMPTZ,
    dunning_attempts       INT         NOT NULL DEFAULT 0,
    next_retry_at          TIMESTAMPTZ,
    canceled_at            TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One live subscription per user, whatever the races.
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (user_id) WHERE status IN ('incomplete', 'active', 'past_due');
CREATE INDEX subscriptions_renewal_due ON subscriptions (current_period_end) WHERE status = 'active';
CREATE INDEX subscriptions_retry_due ON subscriptions (next_retry_at) WHERE status = 'past_due';
CREATE INDEX subscriptions_incomplete ON subscriptions (first_payment_deadline) WHERE status = 'incomplete';

-- Each amount asked of billing: the first period, an upgrade's proration, a renewal.
CREATE TABLE charges (
    id              UUID          PRIMARY KEY,
    subscription_id UUID          NOT NULL REFERENCES subscriptions (id),
    kind            TEXT          NOT NULL CHECK (kind IN ('initial', 'upgrade', 'renewal')),
    tier            TEXT          NOT NULL REFERENCES tiers (code),
    amount          NUMERIC(19,4) NOT NULL CHECK (amount > 0 AND amount <> 'NaN'),
    currency        CHAR(3)       NOT NULL,
    payment_id      UUID          UNIQUE,
    status          TEXT          NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX charges_subscription ON charges (subscription_id);

-- Entitlements from elsewhere: an enterprise seat (licensing) or a redeemed month of Pro (rewards).
CREATE TABLE grants (
    id         UUID        PRIMARY KEY,
    user_id    UUID        NOT NULL,
    source     TEXT        NOT NULL CHECK (source IN ('license', 'reward')),
    tier       TEXT        NOT NULL REFERENCES tiers (code),
    reference  TEXT        NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    UNIQUE (source, reference, user_id)
);
CREATE INDEX grants_user ON grants (user_id);
