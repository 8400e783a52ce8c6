DROP TABLE payment_outcomes;
DROP FUNCTION payment_outcomes_append_only();
