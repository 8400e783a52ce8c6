ALTER TABLE refunds DROP COLUMN announced;
ALTER TABLE refunds DROP COLUMN updated_at;
ALTER TABLE refunds DROP COLUMN failure_reason;
ALTER TABLE refunds DROP COLUMN request_key;
DELETE FROM billing_history WHERE refund_id IN (SELECT id FROM refunds WHERE stripe_refund_id IS NULL);
DELETE FROM refunds WHERE stripe_refund_id IS NULL;
ALTER TABLE refunds ALTER COLUMN stripe_refund_id SET NOT NULL;
ALTER TABLE refunds DROP CONSTRAINT refunds_reason_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_reason_check
    CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer'));
