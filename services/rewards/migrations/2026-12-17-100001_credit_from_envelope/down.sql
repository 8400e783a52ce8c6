-- The old signatures stayed (the up migration only expands): dropping the new ones is enough.
DROP FUNCTION earn_once(JSONB, TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT);
DROP FUNCTION credit_tokens(JSONB, TEXT, TEXT, TEXT, TEXT, TEXT);
