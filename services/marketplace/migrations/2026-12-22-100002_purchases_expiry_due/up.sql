-- The expiry sweep's index (`store::purchases::claim_expired`), as `purchases_open` was, with one
-- more condition in its predicate, `created_at IS NOT NULL` (issue 22). The column is NOT NULL, so
-- the index holds the same rows; what changes is which statements may use it.
--
-- PostgreSQL may answer a statement from any partial index whose predicate the statement's WHERE
-- implies, reading it whole when it has no condition on its key. The buyer's lookups of a purchase
-- (`purchase_prepare_once`'s and `lock_payable_failed`'s "declined, not closed, of this buyer and
-- course") imply `status IN ('pending', 'failed') AND closed_reason IS NULL`, so they could be
-- answered from `purchases_open`, and were whenever its statistics said it was empty (ANALYZE ran
-- when no purchase was open: a new deployment, a quiet night): the plan then kept for the session
-- walked every open purchase of every buyer on every purchase. `make bench`'s first purchase round
-- after a fresh seed read 4,373 index entries per lookup on average and spent 5.0 ms of CPU per
-- purchase against 2.9 in the rounds after the next ANALYZE. The buyer's lookups name no
-- `created_at`, so they cannot imply this predicate; the sweep's `created_at < $1` implies it
-- (a strict comparison is never true of a NULL), whatever the bound value.
-- CONCURRENTLY (metadata.toml: outside a transaction): the table keeps taking purchases meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS purchases_expiry_due ON purchases (created_at)
    WHERE status IN ('pending', 'failed') AND closed_reason IS NULL AND created_at IS NOT NULL;
