-- A payment's success numbered and recorded in ONE statement (issue 22; docs/scaling.md, hot spot
-- 2). Receipts and invoices are numbered gap-free from one counter row per series and year, locked
-- from the moment a number is taken until the commit, so every success waits for the previous
-- one's commit. The numbers were taken in one statement, then the three writes that carry them
-- (the payment marked, the invoice, billing.payment.succeeded.v1) went out pipelined: the rows
-- stayed locked across two answers to billing and the commit. Under CPU contention each answer
-- waits to be scheduled, and `make bench` showed the counters' upsert waiting 11.7 ms on average
-- at 50 flows/s on a quiet machine, 62 ms on a busy one. Here the numbers are taken and written
-- inside the statement, so the rows are held for one answer and the commit.
--
-- Everything that does not depend on the numbers is built by the caller: the invoice document
-- (`number` and `receipt_number` are set here), its amounts, and the event's envelope (its
-- `data.receipt_number` is set here). The payment's user and currency come from its row.

-- A document number as `domain::invoice::document_number` writes it: `<series>-<year>-<n>`, n
-- zero-padded to at least six digits (billing's tests pin the two to each other).
CREATE FUNCTION document_number(p_series TEXT, p_year INT, p_sequence BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_series || '-' || p_year || '-' || lpad(p_sequence::TEXT, greatest(6, length(p_sequence::TEXT)), '0')
$$;

-- Returns the receipt number. The counters are locked in the series' sorted order, as
-- store::receipts::next_sequences does, so this and a credit note's numbering cannot deadlock.
CREATE FUNCTION record_numbered_success(
    p_payment_id UUID, p_year INT, p_receipt_series TEXT, p_invoice_series TEXT,
    p_charge_id TEXT, p_card_brand TEXT, p_card_last4 TEXT, p_at TIMESTAMPTZ,
    p_invoice_id UUID, p_subtotal NUMERIC, p_tax_amount NUMERIC, p_total NUMERIC, p_document JSONB,
    p_envelope JSONB)
RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    receipt TEXT;
    invoice TEXT;
    paid payments%ROWTYPE;
BEGIN
    WITH taken AS (
        INSERT INTO receipt_counters AS r (series, year, last_value)
        SELECT s, p_year, 1 FROM unnest(ARRAY[p_receipt_series, p_invoice_series]) AS s ORDER BY s
        ON CONFLICT (series, year) DO UPDATE SET last_value = r.last_value + 1
        RETURNING r.series, r.last_value)
    SELECT document_number(p_receipt_series, p_year, max(last_value) FILTER (WHERE series = p_receipt_series)),
           document_number(p_invoice_series, p_year, max(last_value) FILTER (WHERE series = p_invoice_series))
      INTO receipt, invoice
      FROM taken;
    UPDATE payments
       SET status = 'succeeded', latest_charge_id = p_charge_id, card_brand = p_card_brand,
           card_last4 = p_card_last4, receipt_number = receipt, succeeded_at = p_at,
           failure_code = NULL, failure_message = NULL, updated_at = now()
     WHERE id = p_payment_id
    RETURNING * INTO paid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'record_numbered_success: no payment %', p_payment_id;
    END IF;
    INSERT INTO invoices (id, number, payment_id, user_id, currency, subtotal, tax_amount, total, document, issued_at)
    VALUES (p_invoice_id, invoice, p_payment_id, paid.user_id, paid.currency, p_subtotal, p_tax_amount, p_total,
            jsonb_set(jsonb_set(p_document, '{number}', to_jsonb(invoice)), '{receipt_number}', to_jsonb(receipt)),
            p_at);
    INSERT INTO outbox (event_id, event_type, envelope)
    VALUES ((p_envelope->>'id')::UUID, p_envelope->>'type',
            jsonb_set(p_envelope, '{data,receipt_number}', to_jsonb(receipt))::TEXT);
    RETURN receipt;
END $$;
