-- Vouchers issued per UTC day and currency, for the vouchers report (issue 19): issuing is most of
-- a year's voucher events, and a voucher's issue (its day, currency and face value) never changes.
-- Written lazily by the report for closed days (platform::reports::DailySummary). Uses and expiries
-- stay live: a refund releases a used voucher and a released voucher may have expired meanwhile,
-- so those change after the day.
CREATE TABLE voucher_issue_days (
    day      DATE          NOT NULL,
    currency CHAR(3)       NOT NULL,
    vouchers BIGINT        NOT NULL,
    value    NUMERIC(19,4) NOT NULL,
    PRIMARY KEY (day, currency)
);
CREATE TABLE voucher_issue_days_done (day DATE PRIMARY KEY);
