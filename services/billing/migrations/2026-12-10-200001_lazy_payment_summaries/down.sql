DROP TABLE payment_outcome_days_done;
TRUNCATE payment_outcomes_daily, payment_cohorts_daily, payment_cohort_successes;
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
INSERT INTO payment_outcomes_daily
SELECT date_trunc('day', occurred_at, 'UTC'), currency, kind, purpose, COALESCE(decline_code, ''), count(*), sum(amount)
  FROM payment_outcomes GROUP BY 1, 2, 3, 4, 5;
INSERT INTO payment_cohorts_daily
SELECT date_trunc('day', occurred_at, 'UTC'), currency, count(*), count(*) FILTER (WHERE kind = 'succeeded')
  FROM payment_outcomes WHERE attempt = 1 GROUP BY 1, 2;
INSERT INTO payment_cohort_successes
SELECT date_trunc('day', COALESCE(f.occurred_at, s.occurred_at), 'UTC'), date_trunc('day', s.occurred_at, 'UTC'),
       s.currency, count(*)
  FROM payment_outcomes s LEFT JOIN payment_outcomes f ON f.payment_id = s.payment_id AND f.attempt = 1
 WHERE s.kind = 'succeeded' GROUP BY 1, 2, 3;
