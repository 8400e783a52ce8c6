-- Per-day, per-currency summaries of the sales ledger for the sales report (issue 19): a year of
-- monthly buckets over hundreds of thousands of lines is too slow to sum on every request.
-- Written lazily by the report itself for closed UTC days only (platform::reports::Series::
-- closed_days), never by a trigger, so purchases and refunds never queue on a summary row. A
-- closed day's lines never change: sales_ledger lines are only inserted, each dated with the
-- service clock in the transaction that books it (the backfill of older history ran in this
-- table's own migration, before any summary existed).
CREATE TABLE sales_days (
    day                DATE          NOT NULL,
    currency           CHAR(3)       NOT NULL,
    sales              BIGINT        NOT NULL,
    refunds            BIGINT        NOT NULL,
    gross_sales        NUMERIC(19,4) NOT NULL,
    refunded           NUMERIC(19,4) NOT NULL,
    discounts          NUMERIC(19,4) NOT NULL,
    gmv                NUMERIC(19,4) NOT NULL,
    instructor_revenue NUMERIC(19,4) NOT NULL,
    platform_revenue   NUMERIC(19,4) NOT NULL,
    PRIMARY KEY (day, currency)
);
-- The days summarised (also the ones without sales): written in the same statement as their rows,
-- so a day listed here has all of its rows.
CREATE TABLE sales_days_done (day DATE PRIMARY KEY);
