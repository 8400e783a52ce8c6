-- Vouchers at checkout (issue 15). A purchase may name a reward voucher (owned by rewards, reserved
-- there with `POST /internal/vouchers/reserve`). Per sale we keep:
--   price        the list price when bought (unchanged meaning)
--   discount     what the buyer did not pay: the voucher's value, capped at the price, plus a
--                remainder below Stripe's minimum charge that the platform waives
--   amount_paid  price - discount: what billing charges and what a refund can give back
--   instructor_share  the instructor's rate of the LIST price: vouchers are funded by the platform
--   platform_share    amount_paid - instructor_share: absorbs the discount, so it is negative when
--                     the discount exceeds the platform's cut (the platform pays the instructor)
ALTER TABLE purchases ADD COLUMN voucher_code TEXT CHECK (voucher_code IS NULL OR length(voucher_code) BETWEEN 1 AND 64);
ALTER TABLE purchases ADD COLUMN discount NUMERIC(19,4) NOT NULL DEFAULT 0
    CHECK (discount >= 0 AND discount <> 'NaN' AND discount <= price);
ALTER TABLE purchases ADD COLUMN amount_paid NUMERIC(19,4) GENERATED ALWAYS AS (price - discount) STORED;
-- When rewards confirmed the reservation (the discount is known from then on), and when the
-- purchase gave the voucher back (`marketplace.voucher.released.v1`).
ALTER TABLE purchases ADD COLUMN voucher_reserved_at TIMESTAMPTZ;
ALTER TABLE purchases ADD COLUMN voucher_released_at TIMESTAMPTZ;
ALTER TABLE purchases ADD CONSTRAINT purchases_voucher
    CHECK (voucher_code IS NOT NULL OR (discount = 0 AND voucher_reserved_at IS NULL AND voucher_released_at IS NULL));

-- The split now sums to what was paid, and refunds are bounded by it.
ALTER TABLE purchases DROP CONSTRAINT purchases_check;
ALTER TABLE purchases ADD CONSTRAINT purchases_refunded_bounds
    CHECK (refunded_amount >= 0 AND refunded_amount <= price - discount);
ALTER TABLE purchases DROP CONSTRAINT purchases_check1;
ALTER TABLE purchases ADD CONSTRAINT purchases_split_sums
    CHECK (instructor_share IS NULL OR instructor_share + platform_share = price - discount);
-- A negative platform share is reversed by a negative amount, never beyond it.
ALTER TABLE purchases DROP CONSTRAINT purchases_platform_reversed_check;
ALTER TABLE purchases DROP CONSTRAINT purchases_check2;
ALTER TABLE purchases ADD CONSTRAINT purchases_reversal_bounds
    CHECK (instructor_share IS NULL OR (instructor_reversed <= instructor_share
        AND platform_reversed BETWEEN LEAST(0, platform_share) AND GREATEST(0, platform_share)));
