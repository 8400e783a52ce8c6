-- Secrets at rest (issue 21): a purchase kept the voucher code the buyer typed, in clear. Rewards
-- keeps codes as keyed hashes only and releases a voucher by the purchase holding it, so all a
-- purchase needs is the code's clear prefix (`RW-` and the first group), to show which voucher.
-- A purchase whose reservation is still to be made takes the code from the buyer's request again.
ALTER TABLE purchases ADD COLUMN voucher_code_prefix TEXT
    CHECK (voucher_code_prefix IS NULL OR length(voucher_code_prefix) BETWEEN 1 AND 7);
UPDATE purchases SET voucher_code_prefix = left(voucher_code, 7) WHERE voucher_code IS NOT NULL;
ALTER TABLE purchases DROP CONSTRAINT purchases_voucher;
ALTER TABLE purchases DROP COLUMN voucher_code;
ALTER TABLE purchases ADD CONSTRAINT purchases_voucher
    CHECK (voucher_code_prefix IS NOT NULL OR (discount = 0 AND voucher_reserved_at IS NULL AND voucher_released_at IS NULL));

-- `marketplace.voucher.released.v1` rows (superseded by v2) carried the code: keep its prefix only.
-- Rewards releases by the purchase, so a row not yet published still does its job.
UPDATE outbox
   SET envelope = jsonb_set(envelope::jsonb, '{data,voucher_code}',
                            to_jsonb(left(envelope::jsonb->'data'->>'voucher_code', 7)))::text
 WHERE event_type = 'marketplace.voucher.released.v1';
