//! The MRR history (`mrr_movements`): written by [`super::subscriptions`] with every change of a
//! subscription, in its transaction, and read by the subscriptions report.

use super::schema::{mrr_movements, tiers};
use super::subscriptions::Subscription;
use crate::domain::lifecycle::Status;
use crate::domain::mrr::{self, Standing};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

async fn standing(conn: &mut AsyncPgConnection, s: &Subscription) -> QueryResult<Standing> {
    let status = Status::parse(&s.status)
        .ok_or_else(|| Error::DeserializationError(format!("unknown subscription status {:?}", s.status).into()))?;
    let (monthly_price, currency): (Decimal, String) =
        tiers::table.find(&s.tier).select((tiers::price, tiers::currency)).first(conn).await?;
    Ok(Standing { tier: s.tier.clone(), status, monthly_price, currency: currency.trim().to_string() })
}

/// Whether the user has paid for a subscription before (a start is then a reactivation).
async fn has_paid_before(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        mrr_movements::table
            .filter(mrr_movements::user_id.eq(user_id))
            .filter(mrr_movements::mrr_after.gt(Decimal::ZERO)),
    ))
    .get_result(conn)
    .await
}

/// Record the change of `after` from `before` (`None`: just created), dated `after.updated_at`
/// (the service clock's time of the change).
pub async fn record(
    conn: &mut AsyncPgConnection,
    before: Option<&Subscription>,
    after: &Subscription,
) -> QueryResult<()> {
    let before = match before {
        Some(b) => Some(standing(conn, b).await?),
        None => None,
    };
    let now = standing(conn, after).await?;
    let returning = mrr::starts_paying(before.as_ref(), &now) && has_paid_before(conn, after.user_id).await?;
    let rows: Vec<_> = mrr::movements(before.as_ref(), &now, returning)
        .into_iter()
        .map(|m| {
            (
                mrr_movements::subscription_id.eq(after.id),
                mrr_movements::user_id.eq(after.user_id),
                mrr_movements::occurred_at.eq(after.updated_at),
                mrr_movements::currency.eq(m.currency),
                mrr_movements::mrr_before.eq(m.mrr_before),
                mrr_movements::mrr_after.eq(m.mrr_after),
                mrr_movements::kind.eq(m.kind.map(|k| k.as_str())),
                mrr_movements::tier_before.eq(m.from.as_ref().map(|(t, _)| t.clone())),
                mrr_movements::status_before.eq(m.from.as_ref().map(|(_, s)| s.as_str())),
                mrr_movements::tier_after.eq(m.to.as_ref().map(|(t, _)| t.clone())),
                mrr_movements::status_after.eq(m.to.as_ref().map(|(_, s)| s.as_str())),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(mrr_movements::table).values(rows).execute(conn).await?;
    }
    Ok(())
}

/// The MRR moved by one kind of movement in one bucket and currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct MovementTotal {
    /// 0: before the report's range; `i`: the range's bucket `i - 1`.
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub kind: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub count: i64,
    /// Sum of `mrr_after - mrr_before`.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub delta: Decimal,
}

/// How many subscriptions entered (positive) or left (negative) a (tier, status) in one bucket.
#[derive(Debug, Clone, QueryableByName)]
pub struct StateChange {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub tier: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub delta: i64,
}

/// Movement totals before `to`, by bucket (`width_bucket` over `starts`, the buckets' starts),
/// currency and kind. Bucket 0 sums everything before the range: the state at its start.
pub async fn movement_totals(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    to: DateTime<Utc>,
) -> QueryResult<Vec<MovementTotal>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(
        "SELECT width_bucket(occurred_at, $1) AS bucket, trim(currency) AS currency, kind,
                count(*) AS count, sum(mrr_after - mrr_before) AS delta
           FROM mrr_movements
          WHERE occurred_at < $2
          GROUP BY 1, 2, 3",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}

/// Entries into and exits from each (tier, status) before `to`, by bucket as [`movement_totals`].
pub async fn state_changes(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    to: DateTime<Utc>,
) -> QueryResult<Vec<StateChange>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(
        "SELECT bucket, currency, tier, status, sum(n)::int8 AS delta FROM (
             SELECT width_bucket(occurred_at, $1) AS bucket, trim(currency) AS currency,
                    tier_after AS tier, status_after AS status, 1 AS n
               FROM mrr_movements WHERE occurred_at < $2 AND tier_after IS NOT NULL
             UNION ALL
             SELECT width_bucket(occurred_at, $1), trim(currency), tier_before, status_before, -1
               FROM mrr_movements WHERE occurred_at < $2 AND tier_before IS NOT NULL
         ) changes
         GROUP BY 1, 2, 3, 4
         HAVING sum(n) <> 0",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}
