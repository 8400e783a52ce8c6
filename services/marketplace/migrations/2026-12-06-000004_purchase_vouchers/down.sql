ALTER TABLE purchases DROP CONSTRAINT purchases_reversal_bounds;
ALTER TABLE purchases ADD CONSTRAINT purchases_check2
    CHECK (instructor_share IS NULL OR (instructor_reversed <= instructor_share AND platform_reversed <= platform_share));
ALTER TABLE purchases ADD CONSTRAINT purchases_platform_reversed_check CHECK (platform_reversed >= 0);
ALTER TABLE purchases DROP CONSTRAINT purchases_split_sums;
ALTER TABLE purchases ADD CONSTRAINT purchases_check1 CHECK (instructor_share IS NULL OR instructor_share + platform_share = price);
ALTER TABLE purchases DROP CONSTRAINT purchases_refunded_bounds;
ALTER TABLE purchases ADD CONSTRAINT purchases_check CHECK (refunded_amount >= 0 AND refunded_amount <= price);
ALTER TABLE purchases DROP CONSTRAINT purchases_voucher;
ALTER TABLE purchases DROP COLUMN voucher_released_at;
ALTER TABLE purchases DROP COLUMN voucher_reserved_at;
ALTER TABLE purchases DROP COLUMN amount_paid;
ALTER TABLE purchases DROP COLUMN discount;
ALTER TABLE purchases DROP COLUMN voucher_code;
