-- The people erased here (issue 18's erasure, webhooks' part), by their opaque id only, as rewards
-- keeps its erasure requests. An event naming one of them that arrives after the erasure (another
-- service's own erasure publishes events about them, an outbox replay resends old ones) is stored
-- already scrubbed, so the erasure stays true whatever the order of the queue.
CREATE TABLE erased_users (
    user_id UUID PRIMARY KEY,
    erased_at TIMESTAMPTZ NOT NULL
);
