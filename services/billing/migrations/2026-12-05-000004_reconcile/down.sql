DROP INDEX IF EXISTS refunds_unsettled;
DROP INDEX IF EXISTS payments_unsettled;
ALTER TABLE refunds DROP COLUMN IF EXISTS reconciled_at;
ALTER TABLE payments DROP COLUMN IF EXISTS reconciled_at;
