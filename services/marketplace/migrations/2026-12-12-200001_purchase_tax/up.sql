-- Tax (issue 20, point 6): billing takes tax out of a course payment (an inclusive rate) or adds it
-- on top (an exclusive one), and its events carry the NET amount with the tax beside it. Tax is
-- neither the platform's nor the instructor's revenue, so a sale splits its net and a refund
-- reverses the net part of what went back. Per purchase we now keep:
--   net_amount  billing's net of what was charged (set when the purchase completes): what splits,
--               what refunds (billing's totals are net too) give back at most
--   tax         the tax billing charged with it (0 when none applied)
-- amount_paid (price - discount) keeps its meaning: what billing was asked to charge.
ALTER TABLE purchases ADD COLUMN net_amount NUMERIC(19,4) CHECK (net_amount >= 0 AND net_amount <> 'NaN');
ALTER TABLE purchases ADD COLUMN tax NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (tax >= 0 AND tax <> 'NaN');
-- Sales before tax existed were untaxed: their net is what was paid.
UPDATE purchases SET net_amount = price - discount WHERE instructor_share IS NOT NULL;
ALTER TABLE purchases ADD CONSTRAINT purchases_net_when_split CHECK ((instructor_share IS NULL) = (net_amount IS NULL));
ALTER TABLE purchases DROP CONSTRAINT purchases_split_sums;
ALTER TABLE purchases ADD CONSTRAINT purchases_split_sums
    CHECK (instructor_share IS NULL OR instructor_share + platform_share = net_amount);
ALTER TABLE purchases DROP CONSTRAINT purchases_refunded_bounds;
ALTER TABLE purchases ADD CONSTRAINT purchases_refunded_bounds
    CHECK (refunded_amount >= 0 AND refunded_amount <= coalesce(net_amount, price - discount));

-- The ledger keeps the tax of each line apart from its gross (which is net of tax): a sale's tax
-- collected, a refund's tax given back (negative). Reports show it beside GMV, never in it.
ALTER TABLE sales_ledger ADD COLUMN tax NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (tax <> 'NaN');
ALTER TABLE sales_ledger ADD CONSTRAINT sales_ledger_tax_sign CHECK ((kind = 'sale') = (tax >= 0) OR tax = 0);
DROP INDEX sales_ledger_time;
CREATE INDEX sales_ledger_time ON sales_ledger (occurred_at)
    INCLUDE (currency, kind, gross, instructor_amount, platform_amount, discount, tax, course_id);
-- Summaries written before this column held days without any tax (no line had one): 0 is right.
ALTER TABLE sales_days ADD COLUMN tax NUMERIC(19,4) NOT NULL DEFAULT 0;
