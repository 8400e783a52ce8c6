-- The folded entries stay in the append-only audit log; the old table comes back empty.
CREATE TABLE award_audit (
    id              UUID        PRIMARY KEY,
    admin_id        TEXT        NOT NULL,
    user_id         UUID        NOT NULL,
    amount          BIGINT      NOT NULL CHECK (amount > 0),
    reason          TEXT        NOT NULL,
    transaction_id  UUID        NOT NULL UNIQUE REFERENCES token_transactions (id),
    idempotency_key TEXT        NOT NULL,
    request_id      TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX award_audit_user ON award_audit (user_id, created_at DESC);
