//! The common purchase's two one-statement steps: `purchase_prepare_once` and
//! `purchase_attach_payment_once` (migration 2026-12-21-100001_purchase_in_one_statement). Each
//! claims the idempotency key itself and answers `general` when the purchase is not the plain
//! case, having written nothing; the route then runs the general path.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::idempotency::Claim;
use rust_decimal::Decimal;
use uuid::Uuid;

mod sql {
    use diesel::sql_types::{Jsonb, Nullable, Numeric, Text, Timestamptz, Uuid};
    diesel::define_sql_function! {
        #[allow(clippy::too_many_arguments)]
        fn purchase_prepare_once(
            scope: Text, key: Text, hash: Text,
            buyer: Uuid, course: Uuid, purchase_id: Uuid, currency: Nullable<Text>,
            split_rate: Numeric, at: Timestamptz
        ) -> Jsonb;
    }
    diesel::define_sql_function! {
        fn purchase_attach_payment_once(
            scope: Text, key: Text, hash: Text,
            purchase_id: Uuid, payment_id: Uuid, client_secret: Nullable<Text>, answer: Jsonb
        ) -> Jsonb;
    }
}

/// A purchase of `course` by `buyer`, recorded as `purchase_id` at `at` if it is the plain case.
pub struct Prepare<'a> {
    pub claim: &'a Claim,
    pub buyer: Uuid,
    pub course: Uuid,
    pub purchase_id: Uuid,
    /// The currency the buyer asked for, if any: the plain case is the course's primary one.
    pub currency: Option<&'a str>,
    pub split_rate: Decimal,
    pub at: DateTime<Utc>,
}

/// Step 1; returns the statement's outcome: `created` with `price` (text), `currency` and
/// `title`, `general`, or the claim's `replayed` / `in_progress` / `reused`.
pub async fn prepare(conn: &mut AsyncPgConnection, p: &Prepare<'_>) -> QueryResult<serde_json::Value> {
    diesel::select(sql::purchase_prepare_once(
        &p.claim.scope,
        &p.claim.key,
        &p.claim.hash,
        p.buyer,
        p.course,
        p.purchase_id,
        p.currency,
        p.split_rate,
        p.at,
    ))
    .get_result(conn)
    .await
}

/// Step 3: attach the payment and record `answer` (201); `general` when the purchase is no
/// longer the plain pending one without a payment.
pub async fn attach_payment(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    purchase_id: Uuid,
    payment_id: Uuid,
    client_secret: Option<&str>,
    answer: &serde_json::Value,
) -> QueryResult<serde_json::Value> {
    diesel::select(sql::purchase_attach_payment_once(
        &claim.scope,
        &claim.key,
        &claim.hash,
        purchase_id,
        payment_id,
        client_secret,
        answer,
    ))
    .get_result(conn)
    .await
}
