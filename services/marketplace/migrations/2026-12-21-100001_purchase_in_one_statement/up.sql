-- The common course purchase in one statement per step (issue 22): a paid course bought in its
-- primary currency, without a voucher, a promotion code or a test clock, by a buyer with no
-- purchase of it yet. routes::purchases runs these two functions around billing's payment, and
-- the general path (platform::idempotency::execute_with_call) for everything else. Each function
-- was five or six round trips and a transaction (BEGIN, the claim, the buyer's lock, the reads,
-- the insert or update, the idempotency record, COMMIT).
--
-- Either function answers 'general' when the case is not the plain one, having written nothing
-- (the claim only takes its advisory lock, released when the statement's transaction ends): the
-- route then runs the general path from the start, which makes every decision and every refusal
-- (course not found, own course, already owned, a declined attempt to supersede, ...) itself.
-- So these functions hold only the positive conditions of the plain case; the rules stay in Rust.
--
-- Every lookup here is by key or by a partial index; PL/pgSQL keeps one generic plan per session,
-- and a session that started on an empty table would keep a Seq Scan (as idempotency_claim did,
-- platform migration 2026-12-21-100003), so the planner may not choose one.

-- Step 1: claim the key; under the buyer's lock on the course (the name and hash the Rust path's
-- advisory lock uses: `purchase:<buyer>:<course>`), check that the plain case applies and record
-- the pending purchase. Outcomes: 'created' (with the course's price, currency and title, for the
-- payment) | 'general' | 'replayed' | 'in_progress' | 'reused' (platform's idempotency_claim).
CREATE FUNCTION purchase_prepare_once(
    p_scope TEXT, p_key TEXT, p_hash TEXT,
    p_buyer UUID, p_course UUID, p_purchase_id UUID, p_currency TEXT,
    p_split_rate NUMERIC, p_at TIMESTAMPTZ)
RETURNS JSONB LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
DECLARE
    claim JSONB;
    course_status TEXT;
    instructor UUID;
    list_price NUMERIC;
    course_currency TEXT;
    course_title TEXT;
BEGIN
    claim := idempotency_claim(p_scope, p_key, p_hash);
    IF claim->>'outcome' <> 'new' THEN
        RETURN claim;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('purchase:' || p_buyer || ':' || p_course, 0));
    SELECT c.status, c.instructor_id, c.price, c.currency, c.title
      INTO course_status, instructor, list_price, course_currency, course_title
      FROM courses c WHERE c.id = p_course;
    IF NOT FOUND OR course_status <> 'published' OR instructor = p_buyer OR list_price = 0
       OR (p_currency IS NOT NULL AND p_currency <> course_currency) THEN
        RETURN jsonb_build_object('outcome', 'general');
    END IF;
    -- This key's purchase (a retry), the buyer's live one, or declined ones a new purchase
    -- supersedes (their payments are voided first): the general path's cases. The statuses are
    -- literals, as the partial indexes purchases_one_live and purchases_payable_failed need.
    IF EXISTS (SELECT 1 FROM purchases p WHERE p.id = p_purchase_id)
       OR EXISTS (SELECT 1 FROM purchases p WHERE p.buyer_id = p_buyer AND p.course_id = p_course
                    AND p.status IN ('pending', 'completed'))
       OR EXISTS (SELECT 1 FROM purchases p WHERE p.buyer_id = p_buyer AND p.course_id = p_course
                    AND p.status = 'failed' AND p.closed_reason IS NULL) THEN
        RETURN jsonb_build_object('outcome', 'general');
    END IF;
    INSERT INTO purchases (id, course_id, buyer_id, instructor_id, price, currency, status, split_rate, created_at)
    VALUES (p_purchase_id, p_course, p_buyer, instructor, list_price, course_currency, 'pending', p_split_rate, p_at);
    -- The price as text: a JSON number would reach Rust through a float.
    RETURN jsonb_build_object('outcome', 'created', 'price', list_price::text, 'currency', course_currency,
                              'title', course_title);
END $$;

-- Step 3: attach billing's payment to the purchase step 1 recorded and record the answer the
-- caller built (the pending purchase with its payment and client secret). 'general' when the
-- purchase is no longer the plain pending one without a payment (a concurrent attempt attached
-- it, the expiry job closed it): the general path then reads the row and answers from it.
CREATE FUNCTION purchase_attach_payment_once(
    p_scope TEXT, p_key TEXT, p_hash TEXT,
    p_purchase_id UUID, p_payment_id UUID, p_client_secret TEXT, p_answer JSONB)
RETURNS JSONB LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
DECLARE
    claim JSONB;
BEGIN
    claim := idempotency_claim(p_scope, p_key, p_hash);
    IF claim->>'outcome' <> 'new' THEN
        RETURN claim;
    END IF;
    UPDATE purchases p SET payment_id = p_payment_id, client_secret = p_client_secret, updated_at = now()
     WHERE p.id = p_purchase_id AND p.payment_id IS NULL AND p.status = 'pending'
       AND p.voucher_code_prefix IS NULL AND p.promotion_code_id IS NULL AND p.test_clock_id IS NULL
       AND p.discount = 0 AND p.closed_reason IS NULL;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'general');
    END IF;
    RETURN idempotency_record(p_scope, p_key, p_hash, 201::SMALLINT, p_answer);
END $$;
