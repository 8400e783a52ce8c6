-- The per-day summaries of payment_outcomes are no longer kept by a trigger: concurrent outcomes
-- of one kind on one day queued on one summary row in their inserting transactions. The payments
-- report now summarises closed UTC days lazily (platform::reports::DailySummary, the same
-- mechanism as marketplace's and rewards'), marking each day done in the statement that writes
-- its rows. The summaries kept so far are dropped and rebuilt that way: the facts are all still in
-- payment_outcomes, dated with the service clock.
DROP TRIGGER payment_outcomes_daily_add ON payment_outcomes;
DROP FUNCTION payment_outcomes_daily_add();
TRUNCATE payment_outcomes_daily, payment_cohorts_daily, payment_cohort_successes;
-- The days summarised (also the ones without outcomes).
CREATE TABLE payment_outcome_days_done (day DATE PRIMARY KEY);
