-- Back to 2026-12-16-100001_credit_tokens's functions.
DROP FUNCTION earn_once(JSONB, TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT);
DROP FUNCTION credit_tokens(JSONB, TEXT, TEXT, TEXT, TEXT, TEXT);

CREATE FUNCTION credit_tokens(
    p_user UUID, p_kind TEXT, p_amount BIGINT, p_reason TEXT, p_reference TEXT, p_source TEXT,
    p_idempotency_ref TEXT, p_rule TEXT, p_at TIMESTAMPTZ,
    p_iso_week TEXT, p_global_board TEXT, p_week_board TEXT,
    p_transaction_id UUID, p_event_id UUID, p_event_type TEXT, p_envelope TEXT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    account token_balances;
    repaid BIGINT;
    week_new BIGINT;
    balance_after BIGINT;
BEGIN
    IF p_amount <= 0 THEN
        RAISE EXCEPTION 'credit_tokens: amount must be positive, got %', p_amount;
    END IF;
    SELECT * INTO account FROM token_balances WHERE user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        -- A racing first credit's insert is waited for by the conflict, then locked.
        INSERT INTO token_balances (user_id, score_reached_at, updated_at) VALUES (p_user, p_at, p_at)
        ON CONFLICT DO NOTHING;
        SELECT * INTO account FROM token_balances WHERE user_id = p_user FOR UPDATE;
    END IF;
    repaid := least(p_amount, account.debt);
    balance_after := (account.spendable + p_amount - repaid) - (account.debt - repaid);
    UPDATE token_balances
       SET spendable = account.spendable + p_amount - repaid, debt = account.debt - repaid,
           lifetime_earned = account.lifetime_earned + p_amount, score_reached_at = p_at, updated_at = p_at
     WHERE user_id = p_user;
    INSERT INTO weekly_scores (iso_week, user_id, score, reached_at) VALUES (p_iso_week, p_user, p_amount, p_at)
    ON CONFLICT (iso_week, user_id) DO UPDATE SET score = weekly_scores.score + p_amount, reached_at = p_at
    RETURNING score INTO week_new;
    -- Each board's move: out of the old score's row (none for zero), into the new one's.
    INSERT INTO score_histogram_deltas (board, score, delta)
    SELECT board, score, delta FROM (VALUES
        (p_global_board, account.lifetime_earned, -1), (p_global_board, account.lifetime_earned + p_amount, 1),
        (p_week_board, week_new - p_amount, -1), (p_week_board, week_new, 1)) AS m(board, score, delta)
     WHERE score > 0;
    INSERT INTO token_transactions (id, user_id, kind, amount, reason, reference, source, idempotency_ref, rule,
                                    balance_after, created_at)
    VALUES (p_transaction_id, p_user, p_kind, p_amount, p_reason, p_reference, p_source, p_idempotency_ref, p_rule,
            balance_after, p_at);
    INSERT INTO outbox (event_id, event_type, envelope)
    VALUES (p_event_id, p_event_type,
            jsonb_set(jsonb_set(p_envelope::jsonb, '{data,amount}', to_jsonb(p_amount)),
                      '{data,balance_after}', to_jsonb(balance_after))::text);
    RETURN balance_after;
END $$;

-- An earning rule applied once per (source, idempotency_ref), within its daily cap: NULL when the
-- source already posted it, else the tokens granted (0 when the cap leaves nothing, and then
-- nothing is written). `p_requested` is the rule's tokens for the occurrence (domain::earning),
-- `p_daily_cap` its cap (NULL: none). The day's counter row is locked until the commit, so two
-- occurrences of one day cannot both pass the cap.
CREATE FUNCTION earn_once(
    p_user UUID, p_rule TEXT, p_requested BIGINT, p_daily_cap BIGINT, p_day DATE, p_reason TEXT,
    p_reference TEXT, p_source TEXT, p_idempotency_ref TEXT, p_at TIMESTAMPTZ,
    p_iso_week TEXT, p_global_board TEXT, p_week_board TEXT,
    p_transaction_id UUID, p_event_id UUID, p_event_type TEXT, p_envelope TEXT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    already BIGINT;
    granted BIGINT;
BEGIN
    PERFORM 1 FROM token_transactions WHERE source = p_source AND idempotency_ref = p_idempotency_ref;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    IF p_requested <= 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO earning_counters (user_id, rule_id, day, tokens) VALUES (p_user, p_rule, p_day, 0)
    ON CONFLICT DO NOTHING;
    SELECT tokens INTO already FROM earning_counters
     WHERE user_id = p_user AND rule_id = p_rule AND day = p_day FOR UPDATE;
    granted := CASE WHEN p_daily_cap IS NULL THEN p_requested
                    ELSE least(p_requested, greatest(p_daily_cap - already, 0)) END;
    IF granted <= 0 THEN
        RETURN 0;
    END IF;
    UPDATE earning_counters SET tokens = tokens + granted
     WHERE user_id = p_user AND rule_id = p_rule AND day = p_day;
    PERFORM credit_tokens(p_user, 'earn', granted, p_reason, p_reference, p_source, p_idempotency_ref, p_rule, p_at,
                          p_iso_week, p_global_board, p_week_board, p_transaction_id, p_event_id, p_event_type,
                          p_envelope);
    RETURN granted;
END $$;
