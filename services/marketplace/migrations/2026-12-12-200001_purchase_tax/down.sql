ALTER TABLE sales_days DROP COLUMN tax;
DROP INDEX sales_ledger_time;
ALTER TABLE sales_ledger DROP CONSTRAINT sales_ledger_tax_sign;
ALTER TABLE sales_ledger DROP COLUMN tax;
CREATE INDEX sales_ledger_time ON sales_ledger (occurred_at)
    INCLUDE (currency, kind, gross, instructor_amount, platform_amount, discount, course_id);
ALTER TABLE purchases DROP CONSTRAINT purchases_refunded_bounds;
ALTER TABLE purchases ADD CONSTRAINT purchases_refunded_bounds
    CHECK (refunded_amount >= 0 AND refunded_amount <= price - discount);
ALTER TABLE purchases DROP CONSTRAINT purchases_split_sums;
-- A taxed sale split less than it was paid: it cannot satisfy the old rule, so the rule comes
-- back unchecked for existing rows.
ALTER TABLE purchases ADD CONSTRAINT purchases_split_sums
    CHECK (instructor_share IS NULL OR instructor_share + platform_share = price - discount) NOT VALID;
ALTER TABLE purchases DROP CONSTRAINT purchases_net_when_split;
ALTER TABLE purchases DROP COLUMN tax;
ALTER TABLE purchases DROP COLUMN net_amount;
