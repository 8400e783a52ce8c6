-- The W3C traceparent of the request that created the payment (issue 16): Stripe's webhook
-- arrives later, outside that trace, and billing settles the payment as a child of this context
-- (linked to the webhook's own trace), so one purchase is one trace through the events it causes.
ALTER TABLE payments ADD COLUMN traceparent TEXT;
