-- Outgoing webhooks: endpoints registered by admins, the events received from the bus, one
-- delivery per (event, matching endpoint) and every attempt made for it.

CREATE TABLE endpoints (
    id UUID PRIMARY KEY,
    url TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Catalog event types and per-service wildcards (`billing.*`), validated by the API.
    event_types TEXT[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    -- AES-256-GCM (nonce || ciphertext || tag) of the `whsec_` secret under WEBHOOKS_SECRET_KEY;
    -- the plaintext is shown once (create, rotate) and never stored.
    secret_sealed BYTEA NOT NULL,
    -- The secret before the last rotation, still signing until `previous_secret_expires_at`.
    previous_secret_sealed BYTEA,
    previous_secret_expires_at TIMESTAMPTZ,
    -- First failed attempt since the last success; the endpoint is disabled when it gets too old.
    failing_since TIMESTAMPTZ,
    disabled_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_created ON endpoints (created_at, id);

-- Each event once, as received (the CloudEvents envelope is the payload delivered), so a replay
-- can send it to any endpoint later.
CREATE TABLE events (
    id UUID PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    id UUID PRIMARY KEY,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    endpoint_id UUID NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts made in the current round (a replay starts a new round).
    attempts INT NOT NULL DEFAULT 0,
    -- When the dispatcher may take it next (also its lease while an attempt is in flight).
    next_attempt_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_failed ON deliveries (endpoint_id, updated_at) WHERE status = 'failed';

CREATE TABLE attempts (
    id UUID PRIMARY KEY,
    delivery_id UUID NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    endpoint_id UUID NOT NULL,
    event_id UUID NOT NULL,
    attempt INT NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL,
    status_code INT,
    latency_ms BIGINT NOT NULL,
    -- The first KiB of the answer, for the delivery log.
    response_body TEXT,
    error TEXT,
    succeeded BOOLEAN NOT NULL
);
CREATE INDEX attempts_by_endpoint ON attempts (endpoint_id, attempted_at, id);
CREATE INDEX attempts_by_event ON attempts (event_id, attempted_at, id);
