ALTER FUNCTION idempotency_claim(TEXT, TEXT, TEXT) RESET enable_seqscan;
