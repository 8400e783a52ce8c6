-- A payment the buyer confirms (on-session, no billing details so no tax) in one statement per
-- step (issue 22): routes::internal::create_payment runs these two functions around Stripe's
-- calls, and the general path (platform::idempotency::execute_with_call) for everything else.
-- Each step was a transaction of four or five round trips (BEGIN, the claim, the reads or the
-- inserts, the idempotency record, COMMIT). A course purchase makes one such payment.

-- Step 1: claim the key and read what Stripe needs: the user's Stripe customer, if any.
-- 'general' when the user has billing details (the tax is then quoted from the rates, in Rust).
-- Outcomes: 'plain' (with 'customer', null for a new one) | 'general' | 'replayed' |
-- 'in_progress' | 'reused' (platform's idempotency_claim). Writes nothing. Both lookups are by
-- primary key: no Seq Scan, even in a session whose first calls met empty tables (platform
-- migration 2026-12-21-100003 says why).
CREATE FUNCTION payment_plan_once(p_scope TEXT, p_key TEXT, p_hash TEXT, p_user UUID)
RETURNS JSONB LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
DECLARE
    claim JSONB;
BEGIN
    claim := idempotency_claim(p_scope, p_key, p_hash);
    IF claim->>'outcome' <> 'new' THEN
        RETURN claim;
    END IF;
    IF EXISTS (SELECT 1 FROM billing_details d WHERE d.user_id = p_user) THEN
        RETURN jsonb_build_object('outcome', 'general');
    END IF;
    RETURN jsonb_build_object('outcome', 'plain', 'customer',
        (SELECT c.stripe_customer_id FROM customers c WHERE c.user_id = p_user));
END $$;

-- Step 3: the customer Stripe just created (p_customer, if new; the first writer wins, as in
-- store::customers::remember), the payment, and the answer the caller built from the same row.
-- p_payment is store::payments::NewPayment as serde writes it, plus created_at: the columns
-- listed here are NewPayment's (keep them in step), the others take their defaults. Decimals
-- come as JSON strings, so no amount passes through a float. Outcomes: 'stored' (201) or the
-- claim's 'replayed' / 'in_progress' / 'reused'.
CREATE FUNCTION payment_record_once(
    p_scope TEXT, p_key TEXT, p_hash TEXT,
    p_payment JSONB, p_customer TEXT, p_answer JSONB)
RETURNS JSONB LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    claim JSONB;
BEGIN
    claim := idempotency_claim(p_scope, p_key, p_hash);
    IF claim->>'outcome' <> 'new' THEN
        RETURN claim;
    END IF;
    IF p_customer IS NOT NULL THEN
        INSERT INTO customers (user_id, stripe_customer_id)
        VALUES ((p_payment->>'user_id')::uuid, p_customer) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO payments (id, user_id, amount, currency, purpose, reference_id, description, status,
                          stripe_payment_intent_id, client_secret, traceparent, tax_amount, tax,
                          tax_country, lines, billed_to, seller, created_at)
    SELECT r.id, r.user_id, r.amount, r.currency, r.purpose, r.reference_id, r.description, r.status,
           r.stripe_payment_intent_id, r.client_secret, r.traceparent, r.tax_amount, r.tax,
           r.tax_country, r.lines, r.billed_to, r.seller, r.created_at
      FROM jsonb_populate_record(NULL::payments, p_payment) r;
    RETURN idempotency_record(p_scope, p_key, p_hash, 201::SMALLINT, p_answer);
END $$;
