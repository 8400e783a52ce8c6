//! The payment outcome history (`payment_outcomes`): written where billing applies an attempt's
//! outcome or a refund (in that transaction, under the payment's lock), read by the payments report.

use super::payments::Payment;
use super::schema::payment_outcomes;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::reports::{DailySummary, Period, Split};
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
    // Revenue is net of tax: the report never counts tax (the tax report does, apart).
    insert(conn, payment, kind, Some(earlier as i32 + 1), payment.net_amount(), decline_code, at).await
}

/// Record a refund of `amount` (its net of tax part) on `payment` (`REFUNDED`, or `REFUND_REVERSED`).
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

/// The per-day summaries of the outcomes the payments report reads for closed days: outcomes by
/// kind, purpose and decline code (NULL is '' there: part of the key); the cohort of payments
/// first attempted each day; and, per cohort day, the days its payments succeeded on (so
/// "succeeded before `to`" is a sum).
pub const OUTCOME_DAYS: DailySummary = DailySummary {
    period: Period::Day,
    done: "payment_outcome_days_done",
    inserts: &[
        "INSERT INTO payment_outcomes_daily (day_start, currency, kind, purpose, decline_code, outcomes, amount)
         SELECT date_trunc('day', o.occurred_at, 'UTC'), o.currency, o.kind, o.purpose,
                coalesce(o.decline_code, ''), count(*), sum(o.amount)
           FROM span JOIN payment_outcomes o ON o.occurred_at >= span.lo AND o.occurred_at < span.hi
          WHERE (o.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing)
          GROUP BY 1, 2, 3, 4, 5",
        "INSERT INTO payment_cohorts_daily (first_day, currency, payments, first_attempt_succeeded)
         SELECT date_trunc('day', o.occurred_at, 'UTC'), o.currency, count(*),
                count(*) FILTER (WHERE o.kind = 'succeeded')
           FROM span JOIN payment_outcomes o ON o.occurred_at >= span.lo AND o.occurred_at < span.hi
          WHERE o.attempt = 1 AND (o.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing)
          GROUP BY 1, 2",
        "INSERT INTO payment_cohort_successes (first_day, success_day, currency, payments)
         SELECT date_trunc('day', f.occurred_at, 'UTC'), date_trunc('day', o.occurred_at, 'UTC'), o.currency,
                count(*)
           FROM span JOIN payment_outcomes o ON o.occurred_at >= span.lo AND o.occurred_at < span.hi
           JOIN payment_outcomes f ON f.payment_id = o.payment_id AND f.attempt = 1
          WHERE o.kind = 'succeeded' AND (o.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing)
          GROUP BY 1, 2, 3",
    ],
};

/// Outcome totals per bucket over `split`'s range: its closed days from the summary, the rest
/// live from the outcomes.
pub async fn totals(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    split: &Split,
) -> QueryResult<Vec<OutcomeTotal>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(
        "SELECT width_bucket(at, $1) AS bucket, trim(currency) AS currency, kind, purpose,
                decline_code, sum(n)::int8 AS count, sum(amount) AS amount
           FROM (SELECT day_start AS at, currency, kind, purpose, NULLIF(decline_code, '') AS decline_code,
                        outcomes AS n, amount
                   FROM payment_outcomes_daily WHERE day_start >= $2 AND day_start < $3
                 UNION ALL
                 SELECT occurred_at, currency, kind, purpose, decline_code, 1::int8, amount
                   FROM payment_outcomes
                  WHERE (occurred_at >= $4 AND occurred_at < $2) OR (occurred_at >= $3 AND occurred_at < $5)) history
          GROUP BY 1, 2, 3, 4, 5",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(split.days_from)
    .bind::<Timestamptz, _>(split.days_to)
    .bind::<Timestamptz, _>(split.from)
    .bind::<Timestamptz, _>(split.to)
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

/// The cohorts of `split`'s range. A cohort payment succeeded by `to` is counted from the summary
/// when its first attempt and its success are both on closed days; live otherwise: first attempts
/// on the open parts (any success before `to`), and first attempts on closed days whose success
/// came on the open part after them. The three sets are disjoint.
const COHORTS: &str = "
    WITH cohort AS (
        SELECT first_day AS at, currency, payments, first_attempt_succeeded
          FROM payment_cohorts_daily WHERE first_day >= $2 AND first_day < $3
        UNION ALL
        SELECT occurred_at, currency, 1, (kind = 'succeeded')::int FROM payment_outcomes
         WHERE attempt = 1 AND ((occurred_at >= $4 AND occurred_at < $2) OR (occurred_at >= $3 AND occurred_at < $5))),
    eventual AS (
        SELECT first_day AS at, currency, payments FROM payment_cohort_successes
         WHERE first_day >= $2 AND first_day < $3 AND success_day < $3
        UNION ALL
        SELECT f.occurred_at, f.currency, 1 FROM payment_outcomes f
         WHERE f.attempt = 1 AND ((f.occurred_at >= $4 AND f.occurred_at < $2) OR (f.occurred_at >= $3 AND f.occurred_at < $5))
           AND EXISTS (SELECT 1 FROM payment_outcomes s
                        WHERE s.payment_id = f.payment_id AND s.kind = 'succeeded' AND s.occurred_at < $5)
        UNION ALL
        SELECT f.occurred_at, f.currency, 1
          FROM payment_outcomes s JOIN payment_outcomes f ON f.payment_id = s.payment_id AND f.attempt = 1
         WHERE s.kind = 'succeeded' AND s.occurred_at >= $3 AND s.occurred_at < $5
           AND f.occurred_at >= $2 AND f.occurred_at < $3)
    SELECT c.bucket, c.currency, c.payments, c.first_attempt_succeeded,
           COALESCE(e.eventually_succeeded, 0)::int8 AS eventually_succeeded
      FROM (SELECT width_bucket(at, $1) AS bucket, trim(currency) AS currency, sum(payments)::int8 AS payments,
                   sum(first_attempt_succeeded)::int8 AS first_attempt_succeeded
              FROM cohort GROUP BY 1, 2) c
      LEFT JOIN (SELECT width_bucket(at, $1) AS bucket, trim(currency) AS currency,
                        sum(payments)::int8 AS eventually_succeeded
                   FROM eventual GROUP BY 1, 2) e
        USING (bucket, currency)";

pub async fn cohorts(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    split: &Split,
) -> QueryResult<Vec<Cohort>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(COHORTS)
        .bind::<Array<Timestamptz>, _>(starts)
        .bind::<Timestamptz, _>(split.days_from)
        .bind::<Timestamptz, _>(split.days_to)
        .bind::<Timestamptz, _>(split.from)
        .bind::<Timestamptz, _>(split.to)
        .load(conn)
        .await
}
