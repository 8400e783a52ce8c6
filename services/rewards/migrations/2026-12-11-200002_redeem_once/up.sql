-- A redemption as ONE statement (issue 22): the idempotency claim, the guarded debit, the ledger
-- entry, the redemption, the voucher, the outbox row and the idempotency record, in one round trip
-- and one commit (routes::redeem, through platform::idempotency::execute_statement). Everything
-- that is not known before the debit is built by the caller: ids, the voucher row, the event's
-- envelope and the answer, the last two with `balance_after` set here from the debit.
--
-- The caller priced the redemption from the catalogue row it read (p_cost, p_title, p_discount,
-- p_currency; p_cost NULL when no active item has that name): the row must still say the same, or
-- nothing is written and the caller reads it again ('item_changed'). That read is outside the lock,
-- so a replay of a stored answer never depends on the catalogue.
--
-- Outcomes: 'stored' | 'replayed' | 'in_progress' | 'reused' (platform) | 'unknown_item' |
-- 'item_changed' | 'insufficient_tokens' (response_body = {"balance": ...}).
CREATE FUNCTION redeem_once(
    p_scope TEXT, p_key TEXT, p_hash TEXT,
    p_user UUID, p_item TEXT, p_cost BIGINT, p_title TEXT, p_discount NUMERIC, p_currency TEXT,
    p_at TIMESTAMPTZ, p_redemption_id UUID, p_transaction_id UUID, p_voucher JSONB,
    p_event_id UUID, p_event_type TEXT, p_envelope TEXT, p_answer JSONB)
RETURNS JSONB LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    claim JSONB;
    balance_after BIGINT;
BEGIN
    claim := idempotency_claim(p_scope, p_key, p_hash);
    IF claim->>'outcome' <> 'new' THEN
        RETURN claim;
    END IF;
    IF p_cost IS NULL THEN
        RETURN jsonb_build_object('outcome', 'unknown_item');
    END IF;
    PERFORM 1 FROM catalog_items i
      WHERE i.item = p_item AND i.active AND i.cost = p_cost AND i.title = p_title
        AND i.voucher_discount IS NOT DISTINCT FROM p_discount
        AND trim(i.voucher_currency) IS NOT DISTINCT FROM p_currency;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'item_changed');
    END IF;
    -- The guarded debit: never below zero, never while a clawback debt is owed.
    UPDATE token_balances b SET spendable = b.spendable - p_cost, updated_at = p_at
     WHERE b.user_id = p_user AND b.spendable >= p_cost AND b.debt = 0
    RETURNING b.balance INTO balance_after;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'insufficient_tokens', 'response_body', jsonb_build_object(
            'balance', COALESCE((SELECT b.balance FROM token_balances b WHERE b.user_id = p_user), 0)));
    END IF;
    INSERT INTO token_transactions (id, user_id, kind, amount, reason, reference, source, idempotency_ref, rule,
                                    balance_after, created_at)
    VALUES (p_transaction_id, p_user, 'redeem', -p_cost, 'Redeemed: ' || p_title, p_redemption_id::text,
            'redemption', p_redemption_id::text, NULL, balance_after, p_at);
    INSERT INTO redemptions (id, user_id, item, cost, transaction_id, created_at)
    VALUES (p_redemption_id, p_user, p_item, p_cost, p_transaction_id, p_at);
    IF p_voucher IS NOT NULL THEN
        -- The row exactly as store::catalog::Voucher serialises it, so the two writers cannot drift.
        INSERT INTO vouchers SELECT * FROM jsonb_populate_record(NULL::vouchers, p_voucher);
    END IF;
    INSERT INTO outbox (event_id, event_type, envelope)
    VALUES (p_event_id, p_event_type,
            jsonb_set(p_envelope::jsonb, '{data,balance_after}', to_jsonb(balance_after))::text);
    RETURN idempotency_record(p_scope, p_key, p_hash, 201::smallint,
                              jsonb_set(p_answer, '{balance_after}', to_jsonb(balance_after)));
END $$;
