-- Nothing to restore: no version that can run beside or after this migration calls the positional
-- signatures (the previous release already called only the envelope ones, which stay). Reverting
-- past 2026-12-16-100001_credit_tokens finds them gone (its down drops them IF EXISTS).
SELECT 1;
