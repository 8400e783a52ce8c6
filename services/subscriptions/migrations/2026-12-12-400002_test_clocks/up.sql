-- Test clocks (issue 23, point 5). The shared migration made `test_clocks(id, now)`, every
-- schema's copy of each clock's time; subscriptions owns the clocks, so its copy is the resource:
-- its name, where it started and whether this service has caught up with its time.
ALTER TABLE test_clocks
    ADD COLUMN name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    ADD COLUMN frozen_time TIMESTAMPTZ NOT NULL,
    -- `advancing` until this service's scheduler has run everything due on the clock at `now`.
    ADD COLUMN status TEXT NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'advancing')),
    ADD COLUMN created_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX test_clocks_owner ON test_clocks (owner_id, created_at, id);

-- A subscription on a clock lives in the clock's time: the scheduler's wall-clock pass leaves it
-- alone and the clock's pass takes it (partial index: almost every row has none).
ALTER TABLE subscriptions ADD COLUMN test_clock_id UUID;
CREATE INDEX subscriptions_test_clock ON subscriptions (test_clock_id) WHERE test_clock_id IS NOT NULL;
