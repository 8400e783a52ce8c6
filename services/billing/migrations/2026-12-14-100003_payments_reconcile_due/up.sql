-- The reconcile job's claim (`store::reconcile::claim_payments`) asks for unsettled payments
-- neither changed nor asked about for a while. `payments_unsettled` ordered them by `updated_at`
-- only, so the claim walked every payment asked about recently before reaching a due one: ~4,300
-- rows read per 50 claimed, 11-33 ms per claim, at 47,560 never-confirmed payments in `make bench`
-- (abandoned checkouts, growing). Indexed by when each becomes due, the claim reads what it takes.
-- GREATEST ignores a NULL `reconciled_at` (never asked). CONCURRENTLY: metadata.toml.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_reconcile_due ON payments (GREATEST(updated_at, reconciled_at))
    WHERE status NOT IN ('succeeded', 'canceled') AND review_flag IS NULL;
