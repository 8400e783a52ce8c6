//! The payment outcome history (`payment_outcomes`): written where billing applies an attempt's
//! outcome or a refund (in that transaction, under the payment's lock), read by the payments report.

use super::payments::Payment;
use super::schema::payment_outcomes;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;

pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const REFUNDED: &str = "refunded";
/// A refund counted as confirmed that Stripe then failed: the money did not go back after all.
pub const REFUND_REVERSED: &str = "refund_reversed";

/// Record an attempt of `payment` (`SUCCEEDED`, or `FAILED` with Stripe's decline code), numbered
/// after the attempts already recorded. The caller holds the payment's row lock, so two outcomes
/// of one payment are never numbered alike.
pub async fn attempt(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    kind: &str,
    decline_code: Option<&str>,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let earlier: i64 = payment_outcomes::table
        .filter(payment_outcomes::payment_id.eq(payment.id))
        .filter(payment_outcomes::kind.eq_any([SUCCEEDED, FAILED]))
        .count()
        .get_result(conn)
        .await?;
    insert(conn, payment, kind, Some(earlier as i32 + 1), payment.amount, decline_code, at).await
}

/// Record a refund of `amount` on `payment` (`REFUNDED`, or `REFUND_REVERSED`).
pub async fn refund(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    kind: &str,
    amount: Decimal,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    insert(conn, payment, kind, None, amount, None, at).await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    kind: &str,
    attempt: Option<i32>,
    amount: Decimal,
    decline_code: Option<&str>,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(payment_outcomes::table)
        .values((
            payment_outcomes::payment_id.eq(payment.id),
            payment_outcomes::kind.eq(kind),
            payment_outcomes::attempt.eq(attempt),
            payment_outcomes::purpose.eq(&payment.purpose),
            payment_outcomes::currency.eq(payment.currency.trim()),
            payment_outcomes::amount.eq(amount),
            payment_outcomes::decline_code.eq(decline_code),
            payment_outcomes::occurred_at.eq(at),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Outcomes in `[starts[0], to)` by bucket (`width_bucket` over the buckets' starts, 1-based),
/// currency, kind, purpose and decline code.
#[derive(Debug, Clone, QueryableByName)]
pub struct OutcomeTotal {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub purpose: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub decline_code: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub count: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount: Decimal,
}

pub async fn totals(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    to: DateTime<Utc>,
) -> QueryResult<Vec<OutcomeTotal>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(
        "SELECT width_bucket(occurred_at, $1) AS bucket, trim(currency) AS currency, kind, purpose,
                decline_code, count(*) AS count, sum(amount) AS amount
           FROM payment_outcomes
          WHERE occurred_at >= $1[1] AND occurred_at < $2
          GROUP BY 1, 2, 3, 4, 5",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}

/// The payments first attempted in each bucket: how many, how many succeeded at the first
/// attempt, and how many succeeded by `to` (the end of the report's range, so the same query
/// answers the same later).
#[derive(Debug, Clone, QueryableByName)]
pub struct Cohort {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub payments: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub first_attempt_succeeded: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub eventually_succeeded: i64,
}

pub async fn cohorts(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    to: DateTime<Utc>,
) -> QueryResult<Vec<Cohort>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(
        "SELECT width_bucket(f.occurred_at, $1) AS bucket, trim(f.currency) AS currency,
                count(*) AS payments,
                count(*) FILTER (WHERE f.kind = 'succeeded') AS first_attempt_succeeded,
                count(*) FILTER (WHERE f.kind = 'succeeded' OR EXISTS (
                    SELECT 1 FROM payment_outcomes s
                     WHERE s.payment_id = f.payment_id AND s.kind = 'succeeded' AND s.occurred_at < $2
                )) AS eventually_succeeded
           FROM payment_outcomes f
          WHERE f.attempt = 1 AND f.occurred_at >= $1[1] AND f.occurred_at < $2
          GROUP BY 1, 2",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}
