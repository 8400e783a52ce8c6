-- Replaced by `payments_reconcile_due` (the previous migration): nothing else reads it. Its own
-- migration: CONCURRENTLY takes one statement per migration outside a transaction.
DROP INDEX CONCURRENTLY IF EXISTS payments_unsettled;
