ALTER TABLE subscriptions DROP COLUMN renewal_claimed_until;
