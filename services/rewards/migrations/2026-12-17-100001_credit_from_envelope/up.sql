-- The one-call credit reads what it writes from the event it publishes (a review of
-- 2026-12-16-100001_credit_tokens): user, kind, amount, reason, reference, rule, time and the
-- ledger entry's id come from `p_envelope`'s `data` (rewards.tokens.awarded.v1), the event's id and
-- type from the envelope itself. Before, the caller passed each of them a second time beside the
-- envelope, and `earn_once` wrote the kind 'earn' itself while the event carried the caller's: two
-- sources that could disagree. Now the ledger entry and its event cannot.
--
-- What stays a parameter is what the event does not carry: who posts it (source, idempotency_ref,
-- the ledger's unique key), the boards it moves (their keys are built by store::leaderboard::Board)
-- and, for an earning, the rule's daily cap. The statement still sets the event's `amount` (capped)
-- and `balance_after`.
--
-- Expand only (docs/operations.md, "Run the migrations, then roll out"): the new functions are
-- overloads beside the old ones, which the previous release's pods keep calling until the rollout
-- ends. A later release drops the old signatures (credit_tokens(UUID, TEXT, BIGINT, ...) and
-- earn_once(UUID, TEXT, BIGINT, ...)) once no running version calls them.

-- Credit `data.amount` (> 0) to `data.user_id`; returns the balance after. A clawback's debt is
-- repaid first (as domain::balance::Balance::credit); a credit never meets the score floor, so the
-- old weekly score is the new one less the amount.
CREATE FUNCTION credit_tokens(
    p_envelope JSONB, p_source TEXT, p_idempotency_ref TEXT,
    p_iso_week TEXT, p_global_board TEXT, p_week_board TEXT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d JSONB := p_envelope->'data';
    v_user UUID := (d->>'user_id')::UUID;
    v_amount BIGINT := (d->>'amount')::BIGINT;
    v_at TIMESTAMPTZ := (d->>'awarded_at')::TIMESTAMPTZ;
    account token_balances;
    repaid BIGINT;
    week_new BIGINT;
    balance_after BIGINT;
BEGIN
    IF v_amount IS NULL OR v_amount <= 0 THEN
        RAISE EXCEPTION 'credit_tokens: amount must be positive, got %', v_amount;
    END IF;
    SELECT * INTO account FROM token_balances WHERE user_id = v_user FOR UPDATE;
    IF NOT FOUND THEN
        -- A racing first credit's insert is waited for by the conflict, then locked.
        INSERT INTO token_balances (user_id, score_reached_at, updated_at) VALUES (v_user, v_at, v_at)
        ON CONFLICT DO NOTHING;
        SELECT * INTO account FROM token_balances WHERE user_id = v_user FOR UPDATE;
    END IF;
    repaid := least(v_amount, account.debt);
    balance_after := (account.spendable + v_amount - repaid) - (account.debt - repaid);
    UPDATE token_balances
       SET spendable = account.spendable + v_amount - repaid, debt = account.debt - repaid,
           lifetime_earned = account.lifetime_earned + v_amount, score_reached_at = v_at, updated_at = v_at
     WHERE user_id = v_user;
    INSERT INTO weekly_scores (iso_week, user_id, score, reached_at) VALUES (p_iso_week, v_user, v_amount, v_at)
    ON CONFLICT (iso_week, user_id) DO UPDATE SET score = weekly_scores.score + v_amount, reached_at = v_at
    RETURNING score INTO week_new;
    -- Each board's move: out of the old score's row (none for zero), into the new one's.
    INSERT INTO score_histogram_deltas (board, score, delta)
    SELECT board, score, delta FROM (VALUES
        (p_global_board, account.lifetime_earned, -1), (p_global_board, account.lifetime_earned + v_amount, 1),
        (p_week_board, week_new - v_amount, -1), (p_week_board, week_new, 1)) AS m(board, score, delta)
     WHERE score > 0;
    INSERT INTO token_transactions (id, user_id, kind, amount, reason, reference, source, idempotency_ref, rule,
                                    balance_after, created_at)
    VALUES ((d->>'transaction_id')::UUID, v_user, d->>'kind', v_amount, d->>'reason', d->>'reference', p_source,
            p_idempotency_ref, d->>'rule', balance_after, v_at);
    INSERT INTO outbox (event_id, event_type, envelope)
    VALUES ((p_envelope->>'id')::UUID, p_envelope->>'type',
            jsonb_set(p_envelope, '{data,balance_after}', to_jsonb(balance_after))::TEXT);
    RETURN balance_after;
END $$;

-- An earning (`data.kind` 'earn', `data.rule` the rule, `data.amount` what the rule asks for)
-- applied once per (source, idempotency_ref), within the rule's daily cap on `data.awarded_at`'s
-- UTC day: NULL when the source already posted it, else the tokens granted (0 when the cap leaves
-- nothing, and then nothing is written). The day's counter row is locked until the commit, so two
-- occurrences of one day cannot both pass the cap.
CREATE FUNCTION earn_once(
    p_envelope JSONB, p_source TEXT, p_idempotency_ref TEXT, p_daily_cap BIGINT,
    p_iso_week TEXT, p_global_board TEXT, p_week_board TEXT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d JSONB := p_envelope->'data';
    v_user UUID := (d->>'user_id')::UUID;
    v_rule TEXT := d->>'rule';
    v_requested BIGINT := (d->>'amount')::BIGINT;
    v_day DATE := ((d->>'awarded_at')::TIMESTAMPTZ AT TIME ZONE 'UTC')::DATE;
    already BIGINT;
    granted BIGINT;
BEGIN
    IF v_rule IS NULL OR d->>'kind' IS DISTINCT FROM 'earn' THEN
        RAISE EXCEPTION 'earn_once: an earning names its rule and has kind earn (kind %, rule %)', d->>'kind', v_rule;
    END IF;
    PERFORM 1 FROM token_transactions WHERE source = p_source AND idempotency_ref = p_idempotency_ref;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    IF v_requested <= 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO earning_counters (user_id, rule_id, day, tokens) VALUES (v_user, v_rule, v_day, 0)
    ON CONFLICT DO NOTHING;
    SELECT tokens INTO already FROM earning_counters
     WHERE user_id = v_user AND rule_id = v_rule AND day = v_day FOR UPDATE;
    granted := CASE WHEN p_daily_cap IS NULL THEN v_requested
                    ELSE least(v_requested, greatest(p_daily_cap - already, 0)) END;
    IF granted <= 0 THEN
        RETURN 0;
    END IF;
    UPDATE earning_counters SET tokens = tokens + granted
     WHERE user_id = v_user AND rule_id = v_rule AND day = v_day;
    PERFORM credit_tokens(jsonb_set(p_envelope, '{data,amount}', to_jsonb(granted)), p_source, p_idempotency_ref,
                          p_iso_week, p_global_board, p_week_board);
    RETURN granted;
END $$;
