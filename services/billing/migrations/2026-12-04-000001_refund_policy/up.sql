-- Refund policy (issue 14): admins may give `goodwill` refunds, billing refunds payments nobody can
-- use any more (`unfulfillable`), and refunds made in Stripe's dashboard are recorded too.
ALTER TABLE refunds DROP CONSTRAINT refunds_reason_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_reason_check
    CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer', 'goodwill', 'unfulfillable'));

-- A refund row is written (reserved) BEFORE Stripe is called, so no transaction is held across the
-- call and concurrent refunds still cannot exceed the payment: until Stripe answers, the row has no
-- Stripe id. `request_key` is the Stripe idempotency key of the API request that reserved it, so a
-- retry of that request finds its reservation instead of reserving twice.
ALTER TABLE refunds ALTER COLUMN stripe_refund_id DROP NOT NULL;
ALTER TABLE refunds ADD COLUMN request_key TEXT UNIQUE;
-- Why Stripe failed a refund (`failure_reason` of Stripe's refund object).
ALTER TABLE refunds ADD COLUMN failure_reason TEXT;
ALTER TABLE refunds ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
-- The refund's `billing.payment.refunded.v1` was written and its amount counts in
-- `payments.amount_refunded` (the sum of announced refunds). Set by the webhook when Stripe says the
-- refund succeeded, and cleared again if it fails later, so each refund is announced once however
-- often and in whatever order Stripe reports it. Refunds applied before this column existed were
-- counted by the old total-based rule already.
ALTER TABLE refunds ADD COLUMN announced BOOLEAN NOT NULL DEFAULT false;
UPDATE refunds r SET announced = true
 WHERE r.status = 'succeeded' AND (SELECT p.amount_refunded FROM payments p WHERE p.id = r.payment_id) > 0;
