-- The plaintext keys are gone for good: a rollback gives each license a fresh, unusable key in
-- the old column (its holders need a new license key either way).
ALTER TABLE licenses ADD COLUMN license_key TEXT;
UPDATE licenses SET license_key = 'REVOKED' || encode(license_key_hash, 'hex');
ALTER TABLE licenses ALTER COLUMN license_key SET NOT NULL;
ALTER TABLE licenses ADD CONSTRAINT licenses_license_key_key UNIQUE (license_key);
ALTER TABLE licenses DROP COLUMN license_key_hash;
ALTER TABLE licenses DROP COLUMN license_key_prefix;
