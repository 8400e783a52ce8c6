//! The sales ledger (one dated line per sale and per refund) and the report queries over it and
//! the earnings ledger. Buckets are `platform::reports::Series`, numbered by `width_bucket` over their starts.

use super::schema::sales_ledger;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bpchar, Date, Integer, Numeric, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::reports::Series;
use rust_decimal::Decimal;
use uuid::Uuid;

pub const SALE: &str = "sale";
pub const REFUND: &str = "refund";

#[derive(Debug, Insertable)]
#[diesel(table_name = sales_ledger)]
pub struct NewLine<'a> {
    pub id: Uuid,
    pub purchase_id: Uuid,
    pub course_id: Uuid,
    pub instructor_id: Uuid,
    pub kind: &'a str,
    pub gross: Decimal,
    pub instructor_amount: Decimal,
    pub platform_amount: Decimal,
    pub discount: Decimal,
    pub currency: &'a str,
    pub occurred_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, line: &NewLine<'_>) -> QueryResult<usize> {
    diesel::insert_into(sales_ledger::table).values(line).execute(conn).await
}

/// One interval and currency of the marketplace's sales. Refund amounts are positive here.
#[derive(Debug, Clone, QueryableByName)]
pub struct IntervalTotals {
    /// 1-based index into the report's buckets (PostgreSQL's `width_bucket`).
    #[diesel(sql_type = Integer)]
    pub bucket: i32,
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub sales: i64,
    #[diesel(sql_type = BigInt)]
    pub refunds: i64,
    #[diesel(sql_type = Numeric)]
    pub gross_sales: Decimal,
    #[diesel(sql_type = Numeric)]
    pub refunded: Decimal,
    #[diesel(sql_type = Numeric)]
    pub discounts: Decimal,
    #[diesel(sql_type = Numeric)]
    pub gmv: Decimal,
    #[diesel(sql_type = Numeric)]
    pub instructor_revenue: Decimal,
    #[diesel(sql_type = Numeric)]
    pub platform_revenue: Decimal,
}

/// GMV and its split per bucket and currency over `series`: whole days closed at `now` from the
/// per-day summaries (summarising the ones not yet done), the rest (partial edge days, today)
/// live from the ledger.
pub async fn by_interval(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> QueryResult<Vec<IntervalTotals>> {
    let (days_from, days_to) = match series.closed_days(now) {
        Some(days) => {
            summarise_days(conn, days.0.date_naive(), days.1.date_naive()).await?;
            days
        }
        None => (series.to(), series.to()),
    };
    diesel::sql_query(
        "SELECT width_bucket(at, $1) AS bucket, currency, sum(sales)::bigint AS sales, \
                sum(refunds)::bigint AS refunds, sum(gross_sales) AS gross_sales, sum(refunded) AS refunded, \
                sum(discounts) AS discounts, sum(gmv) AS gmv, sum(instructor_revenue) AS instructor_revenue, \
                sum(platform_revenue) AS platform_revenue \
           FROM ( \
             SELECT day::timestamp AT TIME ZONE 'UTC' AS at, currency, sales, refunds, gross_sales, refunded, \
                    discounts, gmv, instructor_revenue, platform_revenue \
               FROM sales_days WHERE day >= $4 AND day < $5 \
             UNION ALL \
             SELECT occurred_at, currency, \
                    count(*) FILTER (WHERE kind = 'sale'), count(*) FILTER (WHERE kind = 'refund'), \
                    coalesce(sum(gross) FILTER (WHERE kind = 'sale'), 0), \
                    coalesce(-sum(gross) FILTER (WHERE kind = 'refund'), 0), \
                    sum(discount), sum(gross), sum(instructor_amount), sum(platform_amount) \
               FROM sales_ledger \
              WHERE (occurred_at >= $2 AND occurred_at < $6) OR (occurred_at >= $7 AND occurred_at < $3) \
              GROUP BY 1, 2 \
           ) AS d GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Array<Timestamptz>, _>(series.starts())
    .bind::<Timestamptz, _>(series.from())
    .bind::<Timestamptz, _>(series.to())
    .bind::<Date, _>(days_from.date_naive())
    .bind::<Date, _>(days_to.date_naive())
    .bind::<Timestamptz, _>(days_from)
    .bind::<Timestamptz, _>(days_to)
    .load(conn)
    .await
}

/// Summarise the days of `[from, to)` not summarised yet, in one statement: a day's rows and its
/// `sales_days_done` mark commit together. Two replicas doing the same day compute the same rows
/// from an insert-only ledger; the second one's inserts are no-ops.
async fn summarise_days(conn: &mut AsyncPgConnection, from: NaiveDate, to: NaiveDate) -> QueryResult<usize> {
    diesel::sql_query(
        "WITH missing AS ( \
             SELECT $1::date + i AS day FROM generate_series(0, $2::date - $1::date - 1) AS i \
              WHERE NOT EXISTS (SELECT 1 FROM sales_days_done d WHERE d.day = $1::date + i)), \
           span AS (SELECT min(day)::timestamp AT TIME ZONE 'UTC' AS lo, \
                           (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS hi FROM missing), \
           sums AS ( \
             INSERT INTO sales_days (day, currency, sales, refunds, gross_sales, refunded, discounts, gmv, \
                                     instructor_revenue, platform_revenue) \
             SELECT (l.occurred_at AT TIME ZONE 'UTC')::date, l.currency, \
                    count(*) FILTER (WHERE l.kind = 'sale'), count(*) FILTER (WHERE l.kind = 'refund'), \
                    coalesce(sum(l.gross) FILTER (WHERE l.kind = 'sale'), 0), \
                    coalesce(-sum(l.gross) FILTER (WHERE l.kind = 'refund'), 0), \
                    sum(l.discount), sum(l.gross), sum(l.instructor_amount), sum(l.platform_amount) \
               FROM span JOIN sales_ledger l ON l.occurred_at >= span.lo AND l.occurred_at < span.hi \
              WHERE (l.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing) \
              GROUP BY 1, 2 ON CONFLICT DO NOTHING) \
         INSERT INTO sales_days_done (day) SELECT day FROM missing ON CONFLICT DO NOTHING",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .execute(conn)
    .await
}

/// A course's sales over a range, in one currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct CourseTotals {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub course_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
    /// Sales less refunds that ended in a refund line (each refund counts once).
    #[diesel(sql_type = BigInt)]
    pub sales: i64,
    #[diesel(sql_type = BigInt)]
    pub refunds: i64,
    /// What buyers paid, net of refunds.
    #[diesel(sql_type = Numeric)]
    pub revenue: Decimal,
}

/// Which ranking [`top_courses`] returns.
#[derive(Debug, Clone, Copy)]
pub enum Rank {
    Revenue,
    Sales,
}

/// The `limit` best courses of each currency over `[from, to)`, by net revenue or by number of
/// sales (ties broken by the other, then the course id, so pages are stable).
pub async fn top_courses(
    conn: &mut AsyncPgConnection,
    rank: Rank,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<CourseTotals>> {
    let order = match rank {
        Rank::Revenue => "revenue DESC, sales DESC, course_id",
        Rank::Sales => "sales DESC, revenue DESC, course_id",
    };
    diesel::sql_query(format!(
        "SELECT t.course_id, c.title, t.currency, t.sales, t.refunds, t.revenue FROM ( \
             SELECT course_id, currency, sales, refunds, revenue, \
                    row_number() OVER (PARTITION BY currency ORDER BY {order}) AS place FROM ( \
                 SELECT course_id, currency, count(*) FILTER (WHERE kind = 'sale') AS sales, \
                        count(*) FILTER (WHERE kind = 'refund') AS refunds, sum(gross) AS revenue \
                   FROM sales_ledger WHERE occurred_at >= $1 AND occurred_at < $2 \
                  GROUP BY 1, 2) AS per_course) AS t \
           JOIN courses c ON c.id = t.course_id \
          WHERE t.place <= $3 ORDER BY t.currency, t.place"
    ))
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// One instructor's sales of one course in one interval and currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct InstructorSales {
    /// 1-based index into the report's buckets (PostgreSQL's `width_bucket`).
    #[diesel(sql_type = Integer)]
    pub bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub course_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub sales: i64,
    #[diesel(sql_type = BigInt)]
    pub refunds: i64,
    #[diesel(sql_type = Numeric)]
    pub gross_sales: Decimal,
    #[diesel(sql_type = Numeric)]
    pub refunded: Decimal,
    /// The instructor's share, net of refund reversals.
    #[diesel(sql_type = Numeric)]
    pub earnings: Decimal,
}

/// `instructor`'s own sales per interval and course over `[from, to)`.
pub async fn for_instructor(
    conn: &mut AsyncPgConnection,
    instructor: Uuid,
    starts: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<InstructorSales>> {
    diesel::sql_query(
        "SELECT s.bucket, s.course_id, c.title, s.currency, s.sales, s.refunds, s.gross_sales, s.refunded, \
                s.earnings FROM ( \
             SELECT width_bucket(occurred_at, $2) AS bucket, course_id, currency, \
                    count(*) FILTER (WHERE kind = 'sale') AS sales, \
                    count(*) FILTER (WHERE kind = 'refund') AS refunds, \
                    coalesce(sum(gross) FILTER (WHERE kind = 'sale'), 0) AS gross_sales, \
                    coalesce(-sum(gross) FILTER (WHERE kind = 'refund'), 0) AS refunded, \
                    sum(instructor_amount) AS earnings \
               FROM sales_ledger WHERE instructor_id = $1 AND occurred_at >= $3 AND occurred_at < $4 \
              GROUP BY 1, 2, 3) AS s \
           JOIN courses c ON c.id = s.course_id \
          ORDER BY s.bucket, s.currency, s.course_id",
    )
    .bind::<diesel::sql_types::Uuid, _>(instructor)
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}

/// What the platform owes instructors now, per state and currency: `pending` (inside the refund
/// window), `available` (owed, may be requested), `in_payout` (requested, not yet paid) and `paid`.
#[derive(Debug, Clone, QueryableByName)]
pub struct PayoutState {
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
    #[diesel(sql_type = Numeric)]
    pub amount: Decimal,
}

/// Pending and available from the earnings lines not yet in a payout (a small, recent set: the
/// partial indexes hold them), in payout and paid from the payouts, whose amounts are the sums of
/// their lines; so the query never reads the whole earnings history.
pub async fn payout_states(conn: &mut AsyncPgConnection) -> QueryResult<Vec<PayoutState>> {
    diesel::sql_query(
        "SELECT status AS state, currency, sum(amount) AS amount FROM earnings \
          WHERE status IN ('pending', 'available') GROUP BY 1, 2 \
         UNION ALL \
         SELECT CASE status WHEN 'requested' THEN 'in_payout' ELSE 'paid' END, currency, sum(amount) \
           FROM payouts GROUP BY 1, 2 \
         ORDER BY 2, 1",
    )
    .load(conn)
    .await
}
