-- The plaintext codes are gone for good: a rollback gives each voucher an unusable code.
ALTER TABLE vouchers ADD COLUMN code TEXT;
UPDATE vouchers SET code = 'REVOKED-' || encode(code_hash, 'hex');
ALTER TABLE vouchers ALTER COLUMN code SET NOT NULL;
ALTER TABLE vouchers DROP CONSTRAINT vouchers_pkey;
ALTER TABLE vouchers ADD PRIMARY KEY (code);
ALTER TABLE vouchers ADD CONSTRAINT vouchers_redemption_id_key UNIQUE (redemption_id);
ALTER TABLE vouchers DROP COLUMN code_hash;
ALTER TABLE vouchers DROP COLUMN code_prefix;
