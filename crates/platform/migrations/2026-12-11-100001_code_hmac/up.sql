-- Secrets at rest (issue 21): the SQL twin of platform::code_hash, for migrations that convert a
-- plaintext code column (license keys, voucher codes) into its keyed hash.
--
-- HMAC-SHA256 (RFC 2104) on PostgreSQL's built-in sha256(), not pgcrypto's hmac(): the extension
-- must be created by a role with CREATE on the database and lives in one schema that every
-- service's schema would then depend on; this function lives in each service's own schema and
-- needs nothing. platform's tests check it against the Rust helper and RFC 4231.
CREATE FUNCTION code_hmac(key TEXT, code TEXT) RETURNS BYTEA
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    k BYTEA := convert_to(key, 'UTF8');
    inner_pad BYTEA;
    outer_pad BYTEA;
BEGIN
    IF length(k) > 64 THEN
        k := sha256(k);
    END IF;
    k := k || decode(repeat('00', 64 - length(k)), 'hex');
    inner_pad := k;
    outer_pad := k;
    FOR i IN 0..63 LOOP
        inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54); -- 0x36
        outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92); -- 0x5c
    END LOOP;
    RETURN sha256(outer_pad || sha256(inner_pad || convert_to(code, 'UTF8')));
END
$$;

-- The key a conversion hashes with: the session setting `monetization.code_hash_key`, which the
-- `migrate` command sets from `<SVC>_CODE_HASH_KEY`. Called only for rows that exist, so a fresh
-- schema migrates without it; with rows to convert and no key the migration fails, naming them.
CREATE FUNCTION migration_code_hash_key(what TEXT) RETURNS TEXT
LANGUAGE plpgsql STABLE AS $$
DECLARE
    k TEXT := current_setting('monetization.code_hash_key', true);
BEGIN
    IF k IS NULL OR length(k) < 16 THEN
        RAISE EXCEPTION '% must be hashed: run `migrate` with <SVC>_CODE_HASH_KEY set (16+ characters)', what;
    END IF;
    RETURN k;
END
$$;
