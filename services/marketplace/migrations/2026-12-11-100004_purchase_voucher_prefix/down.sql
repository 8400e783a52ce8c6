ALTER TABLE purchases ADD COLUMN voucher_code TEXT CHECK (voucher_code IS NULL OR length(voucher_code) BETWEEN 1 AND 64);
UPDATE purchases SET voucher_code = voucher_code_prefix WHERE voucher_code_prefix IS NOT NULL;
ALTER TABLE purchases DROP CONSTRAINT purchases_voucher;
ALTER TABLE purchases DROP COLUMN voucher_code_prefix;
ALTER TABLE purchases ADD CONSTRAINT purchases_voucher
    CHECK (voucher_code IS NOT NULL OR (discount = 0 AND voucher_reserved_at IS NULL AND voucher_released_at IS NULL));
