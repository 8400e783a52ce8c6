-- Erasure requests (issue 18, point 3). Rewards owns them: an admin's request or the identity
-- provider's `identity.user.erased.v1` becomes a row here and a `rewards.erasure.requested.v1`
-- event; each service's `<service>.user.erased.v1` confirmation becomes a row below; the request
-- is complete when every service has confirmed. The user id is kept: it is the opaque id the
-- financial records keep too (docs/operations.md, "Audit and privacy").
CREATE TABLE erasure_requests (
    id           UUID        PRIMARY KEY,
    user_id      UUID        NOT NULL,
    origin       TEXT        NOT NULL CHECK (origin IN ('admin', 'identity')),
    requested_by TEXT        NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE INDEX erasure_requests_user ON erasure_requests (user_id, requested_at DESC);

CREATE TABLE erasure_confirmations (
    erasure_id   UUID        NOT NULL REFERENCES erasure_requests (id),
    service      TEXT        NOT NULL,
    erased_at    TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (erasure_id, service)
);
