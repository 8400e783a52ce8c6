DROP INDEX subscriptions_resume_due;
DROP INDEX subscriptions_one_live;
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (user_id) WHERE status IN ('incomplete', 'active', 'past_due');
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check CHECK (status IN
    ('incomplete', 'incomplete_expired', 'active', 'past_due', 'canceled'));
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_pause_complete;
ALTER TABLE subscriptions DROP COLUMN pause_resumes_at;
ALTER TABLE subscriptions DROP COLUMN pause_starts_at;
ALTER TABLE subscriptions DROP COLUMN pause_periods;
