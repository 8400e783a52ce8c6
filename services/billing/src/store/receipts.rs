use super::schema::receipt_counters;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Receipts' series (`RCPT-2026-000123`); invoices and credit notes have their own
/// (`domain::invoice`), numbered by the same counter.
pub const RECEIPT_SERIES: &str = "RCPT";

/// The next number of `series` in `year`. The upsert locks the series' counter row for the year
/// until the caller's transaction ends, so numbers are handed out one at a time and a rollback
/// returns its number: no gaps, no duplicates.
pub async fn next_sequence(conn: &mut AsyncPgConnection, series: &str, year: i32) -> QueryResult<i64> {
    diesel::insert_into(receipt_counters::table)
        .values((
            receipt_counters::series.eq(series),
            receipt_counters::year.eq(year),
            receipt_counters::last_value.eq(1i64),
        ))
        .on_conflict((receipt_counters::series, receipt_counters::year))
        .do_update()
        .set(receipt_counters::last_value.eq(receipt_counters::last_value + 1i64))
        .returning(receipt_counters::last_value)
        .get_result(conn)
        .await
}
