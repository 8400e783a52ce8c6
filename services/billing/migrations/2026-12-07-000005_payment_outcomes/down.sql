DROP TABLE payment_cohort_successes;
DROP TABLE payment_cohorts_daily;
DROP TABLE payment_outcomes_daily;
DROP TABLE payment_outcomes;
DROP FUNCTION payment_outcomes_daily_add();
DROP FUNCTION payment_outcomes_append_only();
