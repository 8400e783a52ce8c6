-- Per-course sales summaries for the top-courses ranking (issue 19): a year of sales is ~600,000
-- ledger lines over ~100,000 courses, and a course sells a few times a year, so per-day (or even
-- per-month) rows per course are nearly as many as the lines. A range is read as its closed
-- calendar years from course_sales_years (one row per course and currency), its other closed
-- months from course_sales_months, and the rest live from the ledger. Both are written lazily by
-- the report for closed periods only (platform::reports::DailySummary), never by a trigger; a
-- closed period's ledger lines never change. `period_start` is the first day of the period.
CREATE TABLE course_sales_months (
    period_start DATE          NOT NULL,
    course_id    UUID          NOT NULL,
    currency     CHAR(3)       NOT NULL,
    sales        BIGINT        NOT NULL,
    refunds      BIGINT        NOT NULL,
    revenue      NUMERIC(19,4) NOT NULL,
    PRIMARY KEY (period_start, course_id, currency)
);
CREATE TABLE course_sales_months_done (day DATE PRIMARY KEY);
CREATE TABLE course_sales_years (
    period_start DATE          NOT NULL,
    course_id    UUID          NOT NULL,
    currency     CHAR(3)       NOT NULL,
    sales        BIGINT        NOT NULL,
    refunds      BIGINT        NOT NULL,
    revenue      NUMERIC(19,4) NOT NULL,
    PRIMARY KEY (period_start, course_id, currency)
);
CREATE TABLE course_sales_years_done (day DATE PRIMARY KEY);
-- A range that is exactly one closed month or year is ranked straight from these, in order.
CREATE INDEX course_sales_months_by_revenue ON course_sales_months
    (period_start, currency, revenue DESC, sales DESC, course_id);
CREATE INDEX course_sales_months_by_sales ON course_sales_months
    (period_start, currency, sales DESC, revenue DESC, course_id);
CREATE INDEX course_sales_years_by_revenue ON course_sales_years
    (period_start, currency, revenue DESC, sales DESC, course_id);
CREATE INDEX course_sales_years_by_sales ON course_sales_years
    (period_start, currency, sales DESC, revenue DESC, course_id);
