-- Reconciliation of lost webhooks (issue 15): when the reconcile job last asked Stripe about a
-- payment or refund that is not final. A claimed row is stamped in the claiming statement, so
-- replicas share the work and each unsettled row is asked about at most once per
-- BILLING_RECONCILE_AFTER_SECONDS.
ALTER TABLE payments ADD COLUMN reconciled_at TIMESTAMPTZ;
ALTER TABLE refunds ADD COLUMN reconciled_at TIMESTAMPTZ;
-- Only the unsettled rows are indexed: the job reads nothing else.
CREATE INDEX payments_unsettled ON payments (updated_at)
    WHERE status NOT IN ('succeeded', 'canceled') AND review_flag IS NULL;
CREATE INDEX refunds_unsettled ON refunds (updated_at)
    WHERE status NOT IN ('failed', 'canceled') AND (status <> 'succeeded' OR NOT announced);
