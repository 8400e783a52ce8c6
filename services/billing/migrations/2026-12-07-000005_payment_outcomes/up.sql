-- Every outcome of a payment as billing applies it, for the payments report: each attempt
-- (succeeded or failed, with the decline code), each refund Stripe confirmed and each confirmed
-- refund that failed after all. Append-only, written in the transaction that applies the outcome,
-- dated by the service clock, so a past interval reports the same numbers later.
CREATE TABLE payment_outcomes (
    id           BIGSERIAL     PRIMARY KEY,
    payment_id   UUID          NOT NULL REFERENCES payments (id),
    kind         TEXT          NOT NULL CHECK (kind IN ('succeeded', 'failed', 'refunded', 'refund_reversed')),
    -- 1 for the payment's first attempt, 2 for the next...; NULL for refunds.
    attempt      INT           CHECK ((attempt IS NULL) = (kind IN ('refunded', 'refund_reversed')) AND attempt > 0),
    purpose      TEXT          NOT NULL,
    currency     CHAR(3)       NOT NULL,
    -- The payment's amount for an attempt, the refund's for a refund.
    amount       NUMERIC(19,4) NOT NULL CHECK (amount >= 0 AND amount <> 'NaN'),
    decline_code TEXT,
    occurred_at  TIMESTAMPTZ   NOT NULL
);
CREATE INDEX payment_outcomes_occurred ON payment_outcomes (occurred_at);
CREATE INDEX payment_outcomes_payment ON payment_outcomes (payment_id, kind);

CREATE FUNCTION payment_outcomes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_outcomes is append-only';
END $$;
CREATE TRIGGER payment_outcomes_append_only BEFORE UPDATE OR DELETE ON payment_outcomes
    FOR EACH ROW EXECUTE FUNCTION payment_outcomes_append_only();

-- Backfill from the state at migration time: the last failure of a payment still unpaid, the
-- success of a paid one (as its first attempt: earlier failures were not kept), and every refund
-- announced so far (dated by its last update).
INSERT INTO payment_outcomes (payment_id, kind, attempt, purpose, currency, amount, decline_code, occurred_at)
SELECT id, 'failed', 1, purpose, currency, amount, COALESCE(failure_code, 'unknown'), updated_at
  FROM payments WHERE status <> 'succeeded' AND failure_code IS NOT NULL;
INSERT INTO payment_outcomes (payment_id, kind, attempt, purpose, currency, amount, decline_code, occurred_at)
SELECT id, 'succeeded', 1, purpose, currency, amount, NULL, COALESCE(succeeded_at, updated_at)
  FROM payments WHERE status = 'succeeded';
INSERT INTO payment_outcomes (payment_id, kind, attempt, purpose, currency, amount, decline_code, occurred_at)
SELECT p.id, 'refunded', NULL, p.purpose, p.currency, r.amount, NULL, r.updated_at
  FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.announced;
