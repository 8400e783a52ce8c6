DROP TABLE trial_claims;
DROP INDEX subscriptions_trial_due;
ALTER TABLE subscriptions DROP COLUMN trial_will_end_sent;
ALTER TABLE subscriptions DROP COLUMN trial_end;
ALTER TABLE tiers DROP COLUMN trial_mode;
ALTER TABLE tiers DROP COLUMN trial_days;
