-- Vouchers at checkout (issue 15). Rewards stays the owner of vouchers; marketplace reserves one
-- for a purchase with a synchronous internal call (`POST /internal/vouchers/reserve`) and gives it
-- back with `marketplace.voucher.released.v1`:
--   issued   --reserve-->  reserved (held by purchase_id while the purchase is pending)
--   reserved --marketplace.course.purchased.v1--> consumed
--   reserved|consumed --marketplace.voucher.released.v1--> issued (or expired once past expires_at)
ALTER TABLE vouchers DROP CONSTRAINT vouchers_status_check;
ALTER TABLE vouchers ADD CONSTRAINT vouchers_status_check
    CHECK (status IN ('issued', 'reserved', 'consumed', 'expired'));
ALTER TABLE vouchers ADD COLUMN purchase_id UUID;
ALTER TABLE vouchers ADD COLUMN reserved_at TIMESTAMPTZ;
-- A voucher is held by exactly one purchase while reserved or consumed, and by none otherwise.
ALTER TABLE vouchers ADD CONSTRAINT vouchers_held
    CHECK ((status IN ('reserved', 'consumed')) = (purchase_id IS NOT NULL AND reserved_at IS NOT NULL));
-- One voucher per purchase; also the lookup when the purchase completes or is released.
CREATE UNIQUE INDEX vouchers_purchase ON vouchers (purchase_id) WHERE purchase_id IS NOT NULL;
