DROP INDEX CONCURRENTLY IF EXISTS payments_reconcile_due;
