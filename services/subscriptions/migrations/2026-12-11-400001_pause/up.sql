-- Pause and resume (issue 20, point 3). A pause is scheduled on an active subscription and starts
-- at the end of its paid period (status `paused`: no charges, no access); it resumes at
-- `pause_resumes_at` (whole periods later, anchored like the subscription), or earlier when the
-- subscriber asks. `pause_periods` is what was asked for.
ALTER TABLE subscriptions ADD COLUMN pause_periods    INT CHECK (pause_periods BETWEEN 1 AND 3);
ALTER TABLE subscriptions ADD COLUMN pause_starts_at  TIMESTAMPTZ;
ALTER TABLE subscriptions ADD COLUMN pause_resumes_at TIMESTAMPTZ;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_pause_complete CHECK (
    (pause_periods IS NULL) = (pause_starts_at IS NULL) AND (pause_periods IS NULL) = (pause_resumes_at IS NULL)
    AND (status <> 'paused' OR pause_periods IS NOT NULL));

-- The statuses issue 20 adds: `paused` here, `trialing` (trials) listed too so either migration
-- may run last without refusing the other's rows.
ALTER TABLE subscriptions DROP CONSTRAINT IF EXISTS subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check CHECK (status IN
    ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'paused', 'canceled'));

-- A paused subscription is still the user's one live subscription (it comes back).
DROP INDEX subscriptions_one_live;
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (user_id)
    WHERE status IN ('incomplete', 'trialing', 'active', 'past_due', 'paused');
CREATE INDEX subscriptions_resume_due ON subscriptions (pause_resumes_at) WHERE status = 'paused';
