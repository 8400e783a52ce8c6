-- Per-day summaries of the token ledger for the tokens report (issue 19): a year of monthly
-- buckets over millions of ledger lines is too slow to sum on every request. Written lazily by the
-- report itself for closed UTC days only (platform::reports::Series::closed_days), never by a
-- trigger, so ledger writers never queue on a summary row. A closed day's lines never change: the
-- ledger is append-only and every line is dated with the service clock when it is written.
CREATE TABLE token_flow_days (
    day     DATE   NOT NULL,
    kind    TEXT   NOT NULL,
    -- Signed, as in the ledger; the report shows the absolute value per kind.
    amount  BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (day, kind)
);
-- The days summarised (also the ones with no ledger lines): written in the same transaction as
-- their rows, so a day listed here has all of its rows.
CREATE TABLE token_flow_days_done (day DATE PRIMARY KEY);
