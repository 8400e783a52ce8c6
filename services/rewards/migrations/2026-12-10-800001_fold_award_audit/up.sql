-- One audit mechanism (issue 18): rewards' older `award_audit` table is folded into the
-- platform's hash-chained `audit_log`. Awards made since the audit log exists are in both (the
-- award handler wrote each twice); older ones are appended here as `tokens.award` entries with
-- their original time, actor and request id, chained exactly as platform::audit::record chains
-- (hash = SHA-256(prev_hash || canonical JSON), see crates/platform/src/audit/chain.rs), so
-- `rewards audit verify` holds over them. Then the old table goes.
DO $$
DECLARE
    a          RECORD;
    head_seq   BIGINT;
    head_hash  TEXT;
    at_text    TEXT;
    canonical  TEXT;
    new_hash   TEXT;
BEGIN
    FOR a IN
        SELECT w.*, t.balance_after
        FROM award_audit w JOIN token_transactions t ON t.id = w.transaction_id
        WHERE NOT EXISTS (
            SELECT 1 FROM audit_log l
            WHERE l.action = 'tokens.award' AND l.changes ->> 'transaction_id' = w.transaction_id::text
        )
        ORDER BY w.created_at, w.id
    LOOP
        UPDATE audit_chain_head SET seq = seq + 1 RETURNING seq, hash INTO head_seq, head_hash;
        at_text := to_char(date_trunc('microseconds', a.created_at) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
        -- serde_json's compact form of chain::Canonical: fixed field order, `changes` keys sorted.
        canonical := '{"seq":' || head_seq
            || ',"id":' || to_json(a.id::text)::text
            || ',"at":' || to_json(at_text)::text
            || ',"actor_sub":' || to_json(a.admin_id)::text
            || ',"actor_roles":["admin"]'
            || ',"actor_org":null'
            || ',"action":"tokens.award"'
            || ',"target":' || to_json('user:' || a.user_id::text)::text
            || ',"request_id":' || COALESCE(to_json(a.request_id)::text, 'null')
            || ',"trace_id":null'
            || ',"client_addr":null'
            || ',"changes":{"amount":' || a.amount
            || ',"balance_after":' || a.balance_after
            || ',"migrated_from":"award_audit"'
            || ',"reason":' || to_json(a.reason)::text
            || ',"transaction_id":' || to_json(a.transaction_id::text)::text
            || '}}';
        new_hash := encode(sha256(convert_to(head_hash || canonical, 'UTF8')), 'hex');
        INSERT INTO audit_log (seq, id, at, actor_sub, actor_roles, actor_org, action, target, request_id,
                               trace_id, client_addr, changes, prev_hash, hash)
        VALUES (head_seq, a.id, date_trunc('microseconds', a.created_at), a.admin_id, ARRAY['admin'], NULL,
                'tokens.award', 'user:' || a.user_id::text, a.request_id, NULL, NULL,
                jsonb_build_object('amount', a.amount, 'balance_after', a.balance_after,
                                   'migrated_from', 'award_audit', 'reason', a.reason,
                                   'transaction_id', a.transaction_id),
                head_hash, new_hash);
        UPDATE audit_chain_head SET hash = new_hash;
    END LOOP;
END
$$;

DROP TABLE award_audit;
