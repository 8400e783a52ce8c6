-- A purchase closed without being paid (expired, superseded by a newer purchase of the course) or
-- whose payment arrived for a course the buyer already owns: marketplace has asked billing to void
-- its payment (`marketplace.payment.void_requested.v1`), so it can never complete any more. NULL
-- while the purchase may still be paid (pending, or failed after a decline the buyer may retry).
ALTER TABLE purchases ADD COLUMN closed_reason TEXT
    CHECK (closed_reason IS NULL OR (status = 'failed' AND closed_reason ~ '^[a-z][a-z0-9_]*$'));
-- The expiry scheduler's scan: purchases that may still be paid, oldest first.
CREATE INDEX purchases_open ON purchases (created_at) WHERE status IN ('pending', 'failed') AND closed_reason IS NULL;
-- "Instructor's courses" pages newest first with an id tie-break.
DROP INDEX courses_instructor;
CREATE INDEX courses_instructor ON courses (instructor_id, created_at DESC, id DESC);
