use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Int8, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Receipts' series (`RCPT-2026-000123`); invoices and credit notes have their own
/// (`domain::invoice`), numbered by the same counter.
pub const RECEIPT_SERIES: &str = "RCPT";

#[derive(QueryableByName)]
struct Numbered {
    #[diesel(sql_type = Text)]
    series: String,
    #[diesel(sql_type = Int8)]
    last_value: i64,
}

/// The next number of each of `series` in `year`, in one statement. The upsert locks each series'
/// counter row for the year until the caller's transaction ends, so numbers are handed out one at
/// a time and a rollback returns its number: no gaps, no duplicates. Why one statement: each counter row stays locked until the caller commits, so
/// every payment's success waits for the one before it to commit. Taken last in the transaction
/// and in one round trip, the counters are held for the fewest statements (`make bench`: the
/// receipt counter's upsert averaged 58 ms of waiting when it was taken first). The rows are locked
/// in the series' sorted order, so two transactions taking several counters cannot deadlock.
pub async fn next_sequences<const N: usize>(
    conn: &mut AsyncPgConnection,
    series: [&str; N],
    year: i32,
) -> QueryResult<[i64; N]> {
    let mut sorted: Vec<String> = series.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    let rows: Vec<Numbered> = diesel::sql_query(
        "INSERT INTO receipt_counters (series, year, last_value)
         SELECT s, $2, 1 FROM unnest($1::text[]) AS s ORDER BY s
         ON CONFLICT (series, year) DO UPDATE SET last_value = receipt_counters.last_value + 1
         RETURNING series, last_value",
    )
    .bind::<Array<Text>, _>(&sorted)
    .bind::<Int4, _>(year)
    .load(conn)
    .await?;
    let mut out = [0i64; N];
    for (slot, name) in out.iter_mut().zip(series) {
        *slot =
            rows.iter().find(|r| r.series == name).map(|r| r.last_value).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(format!("no number for series {name}").into())
            })?;
    }
    Ok(out)
}

mod sql {
    use diesel::sql_types::{Int4, Jsonb, Nullable, Numeric, Text, Timestamptz, Uuid};
    diesel::define_sql_function! {
        #[allow(clippy::too_many_arguments)]
        fn record_numbered_success(
            payment_id: Uuid, year: Int4, receipt_series: Text, invoice_series: Text,
            charge_id: Nullable<Text>, card_brand: Nullable<Text>, card_last4: Nullable<Text>, at: Timestamptz,
            invoice_id: Uuid, subtotal: Numeric, tax_amount: Numeric, total: Numeric, document: Jsonb,
            envelope: Jsonb
        ) -> Text;
    }
}

/// A payment's success, with everything that does not depend on its numbers built already.
pub struct NumberedSuccess<'a> {
    pub payment_id: Uuid,
    /// The year the numbers belong to.
    pub year: i32,
    pub invoice_series: &'a str,
    pub charge_id: Option<&'a str>,
    pub card_brand: Option<&'a str>,
    pub card_last4: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub invoice_id: Uuid,
    pub subtotal: Decimal,
    pub tax_amount: Decimal,
    pub total: Decimal,
    /// The invoice as issued, its `number` and `receipt_number` set by the statement.
    pub document: serde_json::Value,
    /// `billing.payment.succeeded.v1`'s envelope, its `data.receipt_number` set by the statement.
    pub envelope: serde_json::Value,
}

/// Number a successful payment (its receipt and invoice) and write what carries the numbers (the
/// payment marked succeeded, the invoice, the event) in one statement (migration
/// `2026-12-17-200001_record_numbered_success`). The counter rows stay locked until the caller
/// commits, as with [`next_sequences`]; doing the writes inside the statement keeps them locked for
/// one answer and the commit instead of two answers and the commit. Returns the receipt number.
pub async fn record_numbered_success(conn: &mut AsyncPgConnection, s: NumberedSuccess<'_>) -> QueryResult<String> {
    diesel::select(sql::record_numbered_success(
        s.payment_id,
        s.year,
        RECEIPT_SERIES,
        s.invoice_series,
        s.charge_id,
        s.card_brand,
        s.card_last4,
        s.at,
        s.invoice_id,
        s.subtotal,
        s.tax_amount,
        s.total,
        s.document,
        s.envelope,
    ))
    .get_result(conn)
    .await
}
