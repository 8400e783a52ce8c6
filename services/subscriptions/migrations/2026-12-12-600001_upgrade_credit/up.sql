-- An upgrade charge remembers the credit for the unused part of the old tier it was priced with,
-- so its invoice lines (proration credit and charge) are the same on every retry of the request
-- to billing (the Idempotency-Key's body must not change). Null on other charges and on upgrades
-- charged before it was recorded (they keep their single line).
ALTER TABLE charges ADD COLUMN proration_credit NUMERIC(19, 4) CHECK (proration_credit >= 0);
