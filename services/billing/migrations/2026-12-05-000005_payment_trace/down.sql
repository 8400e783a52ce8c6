ALTER TABLE payments DROP COLUMN IF EXISTS traceparent;
