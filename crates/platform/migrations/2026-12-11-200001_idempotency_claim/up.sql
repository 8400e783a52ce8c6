-- The idempotency steps of platform::idempotency as SQL functions, so a service's write can run as
-- ONE statement (one round trip, one commit): its own function calls `idempotency_claim` first and
-- `idempotency_record` with its answer (see platform::idempotency::execute_statement).
--
-- The lock is the same transaction-scoped advisory lock the Rust path takes (hashtextextended of
-- scope, U+001F, key), so both paths serialise one key. PL/pgSQL runs each statement of a VOLATILE
-- function with a fresh snapshot, so the lookup after the lock sees every answer committed before
-- the lock was taken, as the Rust path's separate lookup does.
-- Both return the outcome as JSONB, `{"outcome": ..., "response_status": ..., "response_body": ...}`,
-- the shape a service's one-statement function returns too: one value, so the statement that calls
-- it can be prepared once per connection through diesel's query builder.
CREATE FUNCTION idempotency_claim(p_scope TEXT, p_key TEXT, p_hash TEXT) RETURNS JSONB
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    stored idempotency_keys%ROWTYPE;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_scope || chr(31) || p_key, 0)) THEN
        RETURN jsonb_build_object('outcome', 'in_progress');
    END IF;
    SELECT * INTO stored FROM idempotency_keys k WHERE k.scope = p_scope AND k.key = p_key;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'new');
    ELSIF stored.request_hash <> p_hash THEN
        RETURN jsonb_build_object('outcome', 'reused');
    END IF;
    RETURN jsonb_build_object('outcome', 'replayed', 'response_status', stored.response_status,
                              'response_body', stored.response_body);
END $$;

-- Record the answer of a write that ran after `idempotency_claim` said 'new'; returns its outcome.
CREATE FUNCTION idempotency_record(p_scope TEXT, p_key TEXT, p_hash TEXT, p_status SMALLINT, p_body JSONB)
RETURNS JSONB LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body)
    VALUES (p_scope, p_key, p_hash, p_status, p_body);
    RETURN jsonb_build_object('outcome', 'stored', 'response_status', p_status, 'response_body', p_body);
END $$;
