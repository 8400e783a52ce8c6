-- Secrets at rest (issue 21): a voucher code is a bearer credential (its owner's money off a
-- course), so only its keyed hash is kept, HMAC-SHA256(REWARDS_CODE_HASH_KEY, code as issued)
-- (platform::code_hash), looked up by that hash. The full code is shown once, in the redemption
-- that issues it; afterwards only `code_prefix` (`RW-` and the first group: 20 of 80 bits).
-- Existing codes are hashed here with the key `migrate` passes in (platform's code_hmac() and
-- migration_code_hash_key(); a database with vouchers and no key set fails this migration).
ALTER TABLE vouchers ADD COLUMN code_hash BYTEA;
ALTER TABLE vouchers ADD COLUMN code_prefix TEXT;
UPDATE vouchers
   SET code_hash = code_hmac(migration_code_hash_key('voucher codes'), code),
       code_prefix = left(code, 7);
ALTER TABLE vouchers ALTER COLUMN code_hash SET NOT NULL;
ALTER TABLE vouchers ALTER COLUMN code_prefix SET NOT NULL;
ALTER TABLE vouchers ADD CONSTRAINT vouchers_code_hash_key UNIQUE (code_hash);
ALTER TABLE vouchers ADD CONSTRAINT vouchers_code_hash_check CHECK (octet_length(code_hash) = 32);
ALTER TABLE vouchers ADD CONSTRAINT vouchers_code_prefix_check CHECK (length(code_prefix) BETWEEN 1 AND 7);
-- The code was the primary key; the redemption that bought the voucher (one each) is now.
ALTER TABLE vouchers DROP CONSTRAINT vouchers_pkey;
ALTER TABLE vouchers DROP CONSTRAINT vouchers_redemption_id_key;
ALTER TABLE vouchers ADD PRIMARY KEY (redemption_id);
ALTER TABLE vouchers DROP COLUMN code;

-- Stored answers of `POST /api/tokens/redeem` (replayed for an Idempotency-Key) held the full
-- code: keep what a replay now answers, the prefix only.
UPDATE idempotency_keys
   SET response_body = jsonb_set(response_body, '{voucher}',
           ((response_body->'voucher') - 'code')
           || jsonb_build_object('code_prefix', left(response_body->'voucher'->>'code', 7)))
 WHERE scope LIKE '%:POST /api/tokens/redeem' AND jsonb_typeof(response_body->'voucher') = 'object'
   AND response_body->'voucher' ? 'code';
