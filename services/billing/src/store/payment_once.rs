//! A plain payment's two one-statement steps: `payment_plan_once` and `payment_record_once`
//! (migration 2026-12-21-100002_payment_in_one_statement). Each claims the idempotency key itself;
//! the first answers `general` when the general path must quote a tax.

use super::payments::NewPayment;
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::idempotency::Claim;
use serde::Serialize;
use uuid::Uuid;

mod sql {
    use diesel::sql_types::{Jsonb, Nullable, Text, Uuid};
    diesel::define_sql_function! {
        fn payment_plan_once(scope: Text, key: Text, hash: Text, user: Uuid) -> Jsonb;
    }
    diesel::define_sql_function! {
        fn payment_record_once(
            scope: Text, key: Text, hash: Text, payment: Jsonb, customer: Nullable<Text>, answer: Jsonb
        ) -> Jsonb;
    }
}

/// Step 1; returns the statement's outcome: `plain` with `customer` (null for a new one),
/// `general`, or the claim's `replayed` / `in_progress` / `reused`.
pub async fn plan(conn: &mut AsyncPgConnection, claim: &Claim, user: Uuid) -> QueryResult<serde_json::Value> {
    diesel::select(sql::payment_plan_once(&claim.scope, &claim.key, &claim.hash, user)).get_result(conn).await
}

/// The payment row as `payment_record_once` reads it.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    payment: &'a NewPayment<'a>,
    created_at: DateTime<Utc>,
}

/// Step 3: remember `new_customer` (Stripe's, just created), insert the payment created at
/// `created_at` and record `answer` (201); returns the statement's outcome.
pub async fn record(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    payment: &NewPayment<'_>,
    created_at: DateTime<Utc>,
    new_customer: Option<&str>,
    answer: &serde_json::Value,
) -> QueryResult<serde_json::Value> {
    let row = serde_json::to_value(Row { payment, created_at })
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::select(sql::payment_record_once(&claim.scope, &claim.key, &claim.hash, row, new_customer, answer))
        .get_result(conn)
        .await
}
