-- Secrets at rest (issue 21): a license key is a bearer credential (whoever holds it takes a
-- seat), so only its keyed hash is kept, HMAC-SHA256(LICENSING_CODE_HASH_KEY, canonical key)
-- (platform::code_hash), looked up by that hash. The full key is shown once, when the license is
-- created; afterwards only its first group of five (`license_key_prefix`), enough to recognise it.
-- Existing keys are hashed here with the key `migrate` passes in (platform's code_hmac() and
-- migration_code_hash_key(); a database with licenses and no key set fails this migration).
ALTER TABLE licenses ADD COLUMN license_key_hash BYTEA;
ALTER TABLE licenses ADD COLUMN license_key_prefix TEXT;
UPDATE licenses
   SET license_key_hash = code_hmac(migration_code_hash_key('license keys'), license_key),
       license_key_prefix = left(license_key, 5);
ALTER TABLE licenses ALTER COLUMN license_key_hash SET NOT NULL;
ALTER TABLE licenses ALTER COLUMN license_key_prefix SET NOT NULL;
ALTER TABLE licenses ADD CONSTRAINT licenses_license_key_hash_key UNIQUE (license_key_hash);
ALTER TABLE licenses ADD CONSTRAINT licenses_license_key_hash_check CHECK (octet_length(license_key_hash) = 32);
ALTER TABLE licenses ADD CONSTRAINT licenses_license_key_prefix_check CHECK (license_key_prefix ~ '^[0-9A-Z]{5}$');
ALTER TABLE licenses DROP COLUMN license_key;

-- Stored answers of `POST /api/enterprise/licenses/create` (replayed for an Idempotency-Key) held
-- the full key: keep what a replay now answers, the prefix only.
UPDATE idempotency_keys
   SET response_body = (response_body - 'license_key')
       || jsonb_build_object('license_key_prefix', left(replace(response_body->>'license_key', '-', ''), 5))
 WHERE scope LIKE '%:POST /api/enterprise/licenses/create' AND response_body ? 'license_key';
