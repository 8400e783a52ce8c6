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

-- The same history summed per UTC day, kept exact by a trigger in the inserting transaction, for
-- reports whose range starts and ends at midnight UTC (every date range): outcomes by kind,
-- purpose and decline code (NULL is '' here: part of the key); the cohort of payments first
-- attempted each day; and, per cohort day, the days its payments succeeded on (so "succeeded
-- before `to`" is a sum). Concurrent outcomes of one kind on one day wait for each other's commit
-- on the summary row; their transactions are short (Stripe is never called inside them).
CREATE TABLE payment_outcomes_daily (
    day_start    TIMESTAMPTZ   NOT NULL,
    currency     CHAR(3)       NOT NULL,
    kind         TEXT          NOT NULL,
    purpose      TEXT          NOT NULL,
    decline_code TEXT          NOT NULL,
    outcomes     BIGINT        NOT NULL,
    amount       NUMERIC(19,4) NOT NULL,
    PRIMARY KEY (day_start, currency, kind, purpose, decline_code)
);
CREATE TABLE payment_cohorts_daily (
    first_day              TIMESTAMPTZ NOT NULL,
    currency               CHAR(3)     NOT NULL,
    payments               BIGINT      NOT NULL,
    first_attempt_succeeded BIGINT     NOT NULL,
    PRIMARY KEY (first_day, currency)
);
CREATE TABLE payment_cohort_successes (
    first_day   TIMESTAMPTZ NOT NULL,
    success_day TIMESTAMPTZ NOT NULL,
    currency    CHAR(3)     NOT NULL,
    payments    BIGINT      NOT NULL,
    PRIMARY KEY (first_day, success_day, currency)
);
CREATE FUNCTION payment_outcomes_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    day TIMESTAMPTZ := date_trunc('day', NEW.occurred_at, 'UTC');
    first_at TIMESTAMPTZ;
BEGIN
    INSERT INTO payment_outcomes_daily
    VALUES (day, NEW.currency, NEW.kind, NEW.purpose, COALESCE(NEW.decline_code, ''), 1, NEW.amount)
    ON CONFLICT (day_start, currency, kind, purpose, decline_code)
    DO UPDATE SET outcomes = payment_outcomes_daily.outcomes + 1,
                  amount = payment_outcomes_daily.amount + EXCLUDED.amount;
    IF NEW.attempt = 1 THEN
        INSERT INTO payment_cohorts_daily VALUES (day, NEW.currency, 1, (NEW.kind = 'succeeded')::int)
        ON CONFLICT (first_day, currency)
        DO UPDATE SET payments = payment_cohorts_daily.payments + 1,
                      first_attempt_succeeded = payment_cohorts_daily.first_attempt_succeeded
                                                + EXCLUDED.first_attempt_succeeded;
    END IF;
    IF NEW.kind = 'succeeded' THEN
        SELECT occurred_at INTO first_at FROM payment_outcomes
         WHERE payment_id = NEW.payment_id AND attempt = 1;
        INSERT INTO payment_cohort_successes
        VALUES (date_trunc('day', COALESCE(first_at, NEW.occurred_at), 'UTC'), day, NEW.currency, 1)
        ON CONFLICT (first_day, success_day, currency)
        DO UPDATE SET payments = payment_cohort_successes.payments + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER payment_outcomes_daily_add AFTER INSERT ON payment_outcomes
    FOR EACH ROW EXECUTE FUNCTION payment_outcomes_daily_add();

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
