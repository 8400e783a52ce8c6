//! The MRR history (`mrr_movements`): written by [`super::subscriptions`] with every change of a
//! subscription, in its transaction, and read by the subscriptions report.

use super::schema::{mrr_movements, tier_prices};
use super::subscriptions::Subscription;
use crate::domain::lifecycle::Status;
use crate::domain::mrr::{self, Standing};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::reports::{DailySummary, Period, Split};
use rust_decimal::Decimal;
use uuid::Uuid;

async fn standing(conn: &mut AsyncPgConnection, s: &Subscription) -> QueryResult<Standing> {
    let status = Status::parse(&s.status)
        .ok_or_else(|| Error::DeserializationError(format!("unknown subscription status {:?}", s.status).into()))?;
    // The tier's price in the subscription's own currency: MRR is never converted.
    let currency = s.currency.trim().to_string();
    let list: Decimal = tier_prices::table.find((&s.tier, &currency)).select(tier_prices::price).first(conn).await?;
    // Net of a recurring discount covering the current period: MRR is what the customer pays
    // (Stripe's MRR is net of discounts), so a discount ending at a renewal is an expansion.
    let code: platform::money::Currency = currency
        .parse()
        .map_err(|e: String| Error::DeserializationError(format!("subscription currency: {e}").into()))?;
    let listed = platform::money::Money::round(list, code);
    let monthly_price = super::coupons::recurring_discount(conn, s.id, &s.tier, listed, s.current_period_start)
        .await?
        .map_or(list, |(priced, _, _)| priced.net.amount);
    Ok(Standing { tier: s.tier.clone(), status, monthly_price, currency })
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

/// The per-day summary of the MRR history the subscriptions report reads for closed days (NULLs
/// are '' there: they are part of the key).
pub const MRR_DAYS: DailySummary = DailySummary {
    period: Period::Day,
    done: "mrr_days_done",
    inserts: &["INSERT INTO mrr_daily (day_start, currency, kind, tier_before, status_before, tier_after,
                                       status_after, movements, delta)
                SELECT date_trunc('day', m.occurred_at, 'UTC'), m.currency, coalesce(m.kind, ''),
                       coalesce(m.tier_before, ''), coalesce(m.status_before, ''),
                       coalesce(m.tier_after, ''), coalesce(m.status_after, ''),
                       count(*), sum(m.mrr_after - m.mrr_before)
                  FROM span JOIN mrr_movements m ON m.occurred_at >= span.lo AND m.occurred_at < span.hi
                 WHERE (m.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing)
                 GROUP BY 1, 2, 3, 4, 5, 6, 7"],
};

/// Where the history before a report's `to` is read from: `before` covers everything up to its
/// `from` (bucket 0, the state at the start), `range` the report's range; each reads its closed
/// days from `mrr_daily` and the rest live (a day holding `from` is live, so no bucket gets a
/// part of a day that belongs to another).
#[derive(Debug, Clone, Copy)]
pub struct History {
    pub before: Split,
    pub range: Split,
}

impl History {
    /// Summarise the closed days not done yet, from the first movement to `to`.
    pub async fn prepare(
        conn: &mut AsyncPgConnection,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> QueryResult<Self> {
        let first: Option<DateTime<Utc>> =
            mrr_movements::table.select(diesel::dsl::min(mrr_movements::occurred_at)).get_result(conn).await?;
        let start = first.map_or(from, |f| f.min(from));
        let before = MRR_DAYS.prepare(conn, start, from, now).await?;
        let range = MRR_DAYS.prepare(conn, from, to, now).await?;
        Ok(Self { before, range })
    }

    /// The history as rows of (at, currency, kind, n, delta, tier/status before and after), with
    /// its 10 bind parameters from `$2`.
    const SQL: &'static str = "
        SELECT day_start AS at, currency, NULLIF(kind, '') AS kind, movements AS n, delta,
               NULLIF(tier_before, '') AS tier_before, NULLIF(status_before, '') AS status_before,
               NULLIF(tier_after, '') AS tier_after, NULLIF(status_after, '') AS status_after
          FROM mrr_daily WHERE (day_start >= $2 AND day_start < $3) OR (day_start >= $4 AND day_start < $5)
        UNION ALL
        SELECT occurred_at, currency, kind, 1::int8, mrr_after - mrr_before,
               tier_before, status_before, tier_after, status_after
          FROM mrr_movements
         WHERE (occurred_at >= $6 AND occurred_at < $7) OR (occurred_at >= $8 AND occurred_at < $9)
            OR (occurred_at >= $10 AND occurred_at < $11)";
}

/// Bind `$1` (the buckets' starts) and the history's parameters (`$2`..`$11`).
macro_rules! bind_history {
    ($query:expr, $starts:expr, $h:expr) => {{
        use diesel::sql_types::{Array, Timestamptz};
        let h: &History = $h;
        $query
            .bind::<Array<Timestamptz>, _>($starts)
            .bind::<Timestamptz, _>(h.before.days_from)
            .bind::<Timestamptz, _>(h.before.days_to)
            .bind::<Timestamptz, _>(h.range.days_from)
            .bind::<Timestamptz, _>(h.range.days_to)
            .bind::<Timestamptz, _>(h.before.from)
            .bind::<Timestamptz, _>(h.before.days_from)
            .bind::<Timestamptz, _>(h.before.days_to)
            .bind::<Timestamptz, _>(h.range.days_from)
            .bind::<Timestamptz, _>(h.range.days_to)
            .bind::<Timestamptz, _>(h.range.to)
    }};
}

/// Movement totals before the range's end, by bucket (`width_bucket` over `starts`, the buckets'
/// starts), currency and kind. Bucket 0 sums everything before the range: the state at its start.
pub async fn movement_totals(
    conn: &mut AsyncPgConnection,
    history: &History,
    starts: &[DateTime<Utc>],
) -> QueryResult<Vec<MovementTotal>> {
    let sql = format!(
        "SELECT width_bucket(at, $1) AS bucket, trim(currency) AS currency, kind,
                sum(n)::int8 AS count, sum(delta) AS delta
           FROM ({}) history
          GROUP BY 1, 2, 3",
        History::SQL
    );
    bind_history!(diesel::sql_query(sql), starts, history).load(conn).await
}

/// Entries into and exits from each (tier, status) before the range's end, by bucket as
/// [`movement_totals`].
pub async fn state_changes(
    conn: &mut AsyncPgConnection,
    history: &History,
    starts: &[DateTime<Utc>],
) -> QueryResult<Vec<StateChange>> {
    let sql = format!(
        "WITH history AS ({}),
              changes AS (
             SELECT width_bucket(at, $1) AS bucket, trim(currency) AS currency,
                    tier_after AS tier, status_after AS status, n
               FROM history WHERE tier_after IS NOT NULL
             UNION ALL
             SELECT width_bucket(at, $1), trim(currency), tier_before, status_before, -n
               FROM history WHERE tier_before IS NOT NULL)
         SELECT bucket, currency, tier, status, sum(n)::int8 AS delta FROM changes
          GROUP BY 1, 2, 3, 4
         HAVING sum(n) <> 0",
        History::SQL
    );
    bind_history!(diesel::sql_query(sql), starts, history).load(conn).await
}
