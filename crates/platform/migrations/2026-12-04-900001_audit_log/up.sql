-- The audit log of privileged and money-moving actions (platform::audit). Append-only: the
-- triggers below refuse UPDATE, DELETE and TRUNCATE, so only a superuser who disables them can
-- change history, and the hash chain shows it (`<service> audit verify`).
CREATE TABLE audit_log (
    seq         BIGINT      PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    at          TIMESTAMPTZ NOT NULL,
    actor_sub   TEXT        NOT NULL,
    actor_roles TEXT[]      NOT NULL,
    actor_org   UUID,
    action      TEXT        NOT NULL,
    target      TEXT        NOT NULL,
    request_id  TEXT,
    trace_id    TEXT,
    client_addr TEXT,
    changes     JSONB       NOT NULL,
    -- hash = SHA-256(prev_hash || canonical entry), hex; the first entry's prev_hash is 64 zeros.
    prev_hash   TEXT        NOT NULL,
    hash        TEXT        NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at DESC, seq DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_sub, at DESC);
CREATE INDEX audit_log_target ON audit_log (target, at DESC);

-- One row: the end of the chain. Writers lock it (UPDATE) so two concurrent actions append one
-- after the other and the chain cannot fork.
CREATE TABLE audit_chain_head (
    one  BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_chain_head (seq, hash) VALUES (0, repeat('0', 64));

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
