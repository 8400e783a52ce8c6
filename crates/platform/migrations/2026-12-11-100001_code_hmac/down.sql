DROP FUNCTION migration_code_hash_key(TEXT);
DROP FUNCTION code_hmac(TEXT, TEXT);
