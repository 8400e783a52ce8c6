DROP INDEX vouchers_purchase;
ALTER TABLE vouchers DROP CONSTRAINT vouchers_held;
ALTER TABLE vouchers DROP COLUMN reserved_at;
ALTER TABLE vouchers DROP COLUMN purchase_id;
UPDATE vouchers SET status = 'issued' WHERE status = 'reserved';
ALTER TABLE vouchers DROP CONSTRAINT vouchers_status_check;
ALTER TABLE vouchers ADD CONSTRAINT vouchers_status_check CHECK (status IN ('issued', 'consumed', 'expired'));
