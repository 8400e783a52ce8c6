-- A `payment_intent.succeeded` whose amount or currency differs from what we asked Stripe for is
-- not applied: the payment keeps its status and is flagged here for a person to look at.
ALTER TABLE payments ADD COLUMN review_flag TEXT CHECK (review_flag IN ('amount_mismatch'));
ALTER TABLE payments ADD COLUMN review_detail TEXT;
