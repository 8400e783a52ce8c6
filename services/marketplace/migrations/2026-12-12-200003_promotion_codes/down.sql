DROP INDEX purchases_buyer_any;
ALTER TABLE purchases DROP CONSTRAINT purchases_discount_source;
ALTER TABLE purchases DROP CONSTRAINT purchases_voucher;
ALTER TABLE purchases DROP CONSTRAINT purchases_promotion;
ALTER TABLE purchases DROP COLUMN promotion_released_at;
ALTER TABLE purchases DROP COLUMN promotion_funded_by;
ALTER TABLE purchases DROP COLUMN promotion_code;
ALTER TABLE purchases DROP COLUMN promotion_code_id;
ALTER TABLE purchases ADD CONSTRAINT purchases_voucher
    CHECK (voucher_code_prefix IS NOT NULL OR (discount = 0 AND voucher_reserved_at IS NULL AND voucher_released_at IS NULL)) NOT VALID;
DROP TABLE promotion_code_amounts;
DROP TABLE promotion_codes;
