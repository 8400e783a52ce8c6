-- Test clocks (issue 23, point 5): each schema's copy of every sandbox clock's time, kept by the
-- consumer of subscriptions.test_clock.advanced.v1 (events::test_clocks). Subscriptions owns the
-- clocks and adds its own columns (name, starting time, status) to its copy. Empty wherever test clocks
-- are off, which is always the case in production.
CREATE TABLE test_clocks (
    id UUID PRIMARY KEY,
    -- The user who created it: only they may attach their objects to it.
    owner_id UUID NOT NULL,
    now TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
