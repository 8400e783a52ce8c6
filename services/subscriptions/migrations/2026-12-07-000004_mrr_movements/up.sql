-- Every change of a subscription's tier or status, with the MRR it had before and after: the
-- history the subscriptions report reads, so a past interval reports the same numbers tomorrow
-- whatever happens to the subscription since. Written in the transaction of the change
-- (store::subscriptions), append-only. Sums of (mrr_after - mrr_before) up to an instant give the
-- MRR at that instant; +1 at (tier_after, status_after) and -1 at (tier_before, status_before)
-- give the subscriptions by tier and status.
CREATE TABLE mrr_movements (
    id              BIGSERIAL     PRIMARY KEY,
    subscription_id UUID          NOT NULL REFERENCES subscriptions (id),
    user_id         UUID          NOT NULL,
    occurred_at     TIMESTAMPTZ   NOT NULL,
    currency        CHAR(3)       NOT NULL,
    mrr_before      NUMERIC(19,4) NOT NULL CHECK (mrr_before >= 0 AND mrr_before <> 'NaN'),
    mrr_after       NUMERIC(19,4) NOT NULL CHECK (mrr_after >= 0 AND mrr_after <> 'NaN'),
    -- NULL when MRR did not move (created, past_due and back, an unpaid subscription expiring).
    kind            TEXT          CHECK (kind IN ('new', 'expansion', 'contraction', 'churn', 'reactivation')),
    tier_before     TEXT,
    status_before   TEXT,
    tier_after      TEXT,
    status_after    TEXT,
    CHECK ((kind IS NULL) = (mrr_before = mrr_after)),
    CHECK ((tier_before IS NULL) = (status_before IS NULL) AND (tier_after IS NULL) = (status_after IS NULL))
);
-- The report reads a range by time; "has this customer paid before" reads by user.
CREATE INDEX mrr_movements_occurred ON mrr_movements (occurred_at);
CREATE INDEX mrr_movements_paying_users ON mrr_movements (user_id) WHERE mrr_after > 0;

CREATE FUNCTION mrr_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mrr_movements is append-only';
END $$;
CREATE TRIGGER mrr_movements_append_only BEFORE UPDATE OR DELETE ON mrr_movements
    FOR EACH ROW EXECUTE FUNCTION mrr_movements_append_only();

-- Backfill from the state at migration time (the past before it was not recorded): each
-- subscription is created at created_at; one that paid (it has a period) starts paying then too
-- (its first payment is due within hours), at its current tier's price: new, or a reactivation
-- when the user paid before; one that closed churns at canceled_at. A tier changed before this
-- migration shows at its current tier from the start.
INSERT INTO mrr_movements (subscription_id, user_id, occurred_at, currency, mrr_before, mrr_after, kind,
                           tier_before, status_before, tier_after, status_after)
SELECT s.id, s.user_id, s.created_at, t.currency, 0, 0, NULL, NULL, NULL, s.tier, 'incomplete'
  FROM subscriptions s JOIN tiers t ON t.code = s.tier;

WITH paid AS (
    SELECT s.id, s.user_id, s.tier, s.created_at AS started_at, t.currency, t.price,
           row_number() OVER (PARTITION BY s.user_id ORDER BY s.created_at, s.id) AS nth
      FROM subscriptions s JOIN tiers t ON t.code = s.tier
     WHERE s.current_period_start IS NOT NULL AND t.price > 0
)
INSERT INTO mrr_movements (subscription_id, user_id, occurred_at, currency, mrr_before, mrr_after, kind,
                           tier_before, status_before, tier_after, status_after)
SELECT id, user_id, started_at, currency, 0, price, CASE WHEN nth = 1 THEN 'new' ELSE 'reactivation' END,
       tier, 'incomplete', tier, 'active'
  FROM paid;

-- Where the subscription is now, when that is not where the rows above left it.
INSERT INTO mrr_movements (subscription_id, user_id, occurred_at, currency, mrr_before, mrr_after, kind,
                           tier_before, status_before, tier_after, status_after)
SELECT s.id, s.user_id, COALESCE(s.canceled_at, s.updated_at), t.currency,
       CASE WHEN s.current_period_start IS NOT NULL THEN t.price ELSE 0 END,
       CASE WHEN s.status IN ('active', 'past_due') THEN t.price ELSE 0 END,
       CASE WHEN s.current_period_start IS NOT NULL AND t.price > 0 AND s.status NOT IN ('active', 'past_due')
            THEN 'churn' END,
       s.tier, CASE WHEN s.current_period_start IS NOT NULL AND t.price > 0 THEN 'active' ELSE 'incomplete' END,
       s.tier, s.status
  FROM subscriptions s JOIN tiers t ON t.code = s.tier
 WHERE s.status <> CASE WHEN s.current_period_start IS NOT NULL AND t.price > 0 THEN 'active' ELSE 'incomplete' END;
