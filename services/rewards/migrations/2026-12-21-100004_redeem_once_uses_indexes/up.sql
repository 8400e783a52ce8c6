-- redeem_once() and every check it fires use indexes, whatever the tables' statistics say.
--
-- A redemption's voucher row references its redemption, and PostgreSQL checks that foreign key
-- with a plan it caches per session, like a PL/pgSQL function's own statements. A session that
-- began while `redemptions` was empty (a fresh schema, the first redemptions after a deploy) kept
-- a Seq Scan for that check and read every redemption on every voucher until an ANALYZE: ~1,700
-- such scans per `make bench` run (docs/performance.md, round 13). The check runs inside this
-- function's statement, so the function's setting covers it, as it covers idempotency_claim's
-- lookup (platform migration 2026-12-21-100003).
ALTER FUNCTION redeem_once SET enable_seqscan = off;
