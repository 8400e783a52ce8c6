-- Revenue reports (issue 19). A purchase row holds the sale and the running total of its refunds,
-- but not WHEN each refund happened, so a past month's GMV would move with every later refund.
-- The sales ledger keeps one dated line per fact, written in the transaction that books it:
--   sale    when a purchase of a priced course completes: what the buyer paid and its split
--   refund  each refund: what went back and the reversal of each share (negative amounts)
-- gross = instructor + platform on every line, so GMV = instructor revenue + platform revenue
-- holds for any set of lines. Free enrollments are not sales and have no line.
CREATE TABLE sales_ledger (
    id                UUID          PRIMARY KEY,
    purchase_id       UUID          NOT NULL REFERENCES purchases (id),
    course_id         UUID          NOT NULL,
    instructor_id     UUID          NOT NULL,
    kind              TEXT          NOT NULL CHECK (kind IN ('sale', 'refund')),
    gross             NUMERIC(19,4) NOT NULL CHECK (gross <> 'NaN'),
    instructor_amount NUMERIC(19,4) NOT NULL CHECK (instructor_amount <> 'NaN'),
    platform_amount   NUMERIC(19,4) NOT NULL CHECK (platform_amount <> 'NaN'),
    -- The voucher discount of a sale (0 on refunds): what the buyer did not pay.
    discount          NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (discount >= 0),
    currency          CHAR(3)       NOT NULL,
    occurred_at       TIMESTAMPTZ   NOT NULL,
    CHECK (gross = instructor_amount + platform_amount),
    CHECK ((kind = 'sale') = (gross >= 0 AND instructor_amount >= 0)),
    CHECK (kind = 'sale' OR discount = 0)
);
CREATE UNIQUE INDEX sales_ledger_one_sale ON sales_ledger (purchase_id) WHERE kind = 'sale';
-- The admin report reads a time range; the instructor's report their own lines in one.
-- INCLUDE lets both answer from the index alone.
CREATE INDEX sales_ledger_time ON sales_ledger (occurred_at)
    INCLUDE (currency, kind, gross, instructor_amount, platform_amount, discount, course_id);
CREATE INDEX sales_ledger_instructor ON sales_ledger (instructor_id, occurred_at)
    INCLUDE (course_id, currency, kind, gross, instructor_amount);

-- History written before the ledger: sales at their completion time; the refunds of a purchase as
-- one line at its last change (the individual refund times were not kept), the platform's part
-- taken as the rest of the refund so the line sums exactly whatever rounding the reversal had.
INSERT INTO sales_ledger (id, purchase_id, course_id, instructor_id, kind, gross, instructor_amount,
                          platform_amount, discount, currency, occurred_at)
SELECT gen_random_uuid(), id, course_id, instructor_id, 'sale', price - discount, instructor_share,
       platform_share, discount, currency, completed_at
  FROM purchases
 WHERE completed_at IS NOT NULL AND price > 0 AND instructor_share IS NOT NULL;
INSERT INTO sales_ledger (id, purchase_id, course_id, instructor_id, kind, gross, instructor_amount,
                          platform_amount, currency, occurred_at)
SELECT gen_random_uuid(), id, course_id, instructor_id, 'refund', -refunded_amount, -instructor_reversed,
       instructor_reversed - refunded_amount, currency, updated_at
  FROM purchases
 WHERE refunded_amount > 0 AND price > 0 AND instructor_share IS NOT NULL;
