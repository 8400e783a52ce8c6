//! The sales ledger (one dated line per sale and per refund) and the report queries over it and
//! the earnings ledger. Buckets are `platform::reports::Series`, numbered by `width_bucket` over their starts.

use super::schema::sales_ledger;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bpchar, Date, Integer, Numeric, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use platform::reports::{DailySummary, Period, Series, Split};
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
    /// The tax billing charged with a sale (refunds: the tax given back, negative); never in `gross`.
    pub tax: Decimal,
}

pub async fn insert(mut conn: &AsyncPgConnection, line: &NewLine<'_>) -> QueryResult<usize> {
    diesel::insert_into(sales_ledger::table).values(line).prepared().execute(&mut conn).await
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
    /// Tax charged with the sales less tax refunded: collected for the tax authority, not revenue.
    #[diesel(sql_type = Numeric)]
    pub tax: Decimal,
}

/// The per-day, per-currency summary of the ledger the sales report reads for closed days.
pub const SALES_DAYS: DailySummary = DailySummary {
    period: Period::Day,
    done: "sales_days_done",
    inserts: &["INSERT INTO sales_days (day, currency, sales, refunds, gross_sales, refunded, discounts, gmv, \
                                       instructor_revenue, platform_revenue, tax) \
                SELECT (l.occurred_at AT TIME ZONE 'UTC')::date, l.currency, \
                       count(*) FILTER (WHERE l.kind = 'sale'), count(*) FILTER (WHERE l.kind = 'refund'), \
                       coalesce(sum(l.gross) FILTER (WHERE l.kind = 'sale'), 0), \
                       coalesce(-sum(l.gross) FILTER (WHERE l.kind = 'refund'), 0), \
                       sum(l.discount), sum(l.gross), sum(l.instructor_amount), sum(l.platform_amount), sum(l.tax) \
                  FROM span JOIN sales_ledger l ON l.occurred_at >= span.lo AND l.occurred_at < span.hi \
                 WHERE (l.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing) \
                 GROUP BY 1, 2"],
};

/// GMV and its split per bucket and currency over `series`: whole days closed at `now` from the
/// per-day summaries (summarising the ones not yet done), the rest (partial edge days, today)
/// live from the ledger.
pub async fn by_interval(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> QueryResult<Vec<IntervalTotals>> {
    let split = SALES_DAYS.prepare(conn, series.from(), series.to(), now).await?;
    let (days_from, days_to) = split.days();
    diesel::sql_query(
        "SELECT width_bucket(at, $1) AS bucket, currency, sum(sales)::bigint AS sales, \
                sum(refunds)::bigint AS refunds, sum(gross_sales) AS gross_sales, sum(refunded) AS refunded, \
                sum(discounts) AS discounts, sum(gmv) AS gmv, sum(instructor_revenue) AS instructor_revenue, \
                sum(platform_revenue) AS platform_revenue, sum(tax) AS tax \
           FROM ( \
             SELECT day::timestamp AT TIME ZONE 'UTC' AS at, currency, sales, refunds, gross_sales, refunded, \
                    discounts, gmv, instructor_revenue, platform_revenue, tax \
               FROM sales_days WHERE day >= $4 AND day < $5 \
             UNION ALL \
             SELECT occurred_at, currency, \
                    count(*) FILTER (WHERE kind = 'sale'), count(*) FILTER (WHERE kind = 'refund'), \
                    coalesce(sum(gross) FILTER (WHERE kind = 'sale'), 0), \
                    coalesce(-sum(gross) FILTER (WHERE kind = 'refund'), 0), \
                    sum(discount), sum(gross), sum(instructor_amount), sum(platform_amount), sum(tax) \
               FROM sales_ledger \
              WHERE (occurred_at >= $2 AND occurred_at < $6) OR (occurred_at >= $7 AND occurred_at < $3) \
              GROUP BY 1, 2 \
           ) AS d GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Array<Timestamptz>, _>(series.starts())
    .bind::<Timestamptz, _>(series.from())
    .bind::<Timestamptz, _>(series.to())
    .bind::<Date, _>(days_from)
    .bind::<Date, _>(days_to)
    .bind::<Timestamptz, _>(split.days_from)
    .bind::<Timestamptz, _>(split.days_to)
    .load(conn)
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

/// The per-course summaries of the ledger the ranking reads for closed months and years.
const fn course_sales(period: Period, done: &'static str, insert: &'static [&'static str]) -> DailySummary {
    DailySummary { period, done, inserts: insert }
}

pub const COURSE_MONTHS: DailySummary = course_sales(
    Period::Month,
    "course_sales_months_done",
    &["INSERT INTO course_sales_months (period_start, course_id, currency, sales, refunds, revenue) \
       SELECT date_trunc('month', l.occurred_at AT TIME ZONE 'UTC')::date, l.course_id, l.currency, \
              count(*) FILTER (WHERE l.kind = 'sale'), count(*) FILTER (WHERE l.kind = 'refund'), sum(l.gross) \
         FROM span JOIN sales_ledger l ON l.occurred_at >= span.lo AND l.occurred_at < span.hi \
        WHERE date_trunc('month', l.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing) \
        GROUP BY 1, 2, 3"],
);

pub const COURSE_YEARS: DailySummary = course_sales(
    Period::Year,
    "course_sales_years_done",
    &["INSERT INTO course_sales_years (period_start, course_id, currency, sales, refunds, revenue) \
       SELECT date_trunc('year', l.occurred_at AT TIME ZONE 'UTC')::date, l.course_id, l.currency, \
              count(*) FILTER (WHERE l.kind = 'sale'), count(*) FILTER (WHERE l.kind = 'refund'), sum(l.gross) \
         FROM span JOIN sales_ledger l ON l.occurred_at >= span.lo AND l.occurred_at < span.hi \
        WHERE date_trunc('year', l.occurred_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing) \
        GROUP BY 1, 2, 3"],
);

/// The `limit` best courses of each currency over `[from, to)`, by net revenue or by number of
/// sales (ties broken by the other, then the course id, so pages are stable). The closed calendar
/// years of the range come from the yearly summary, its other closed months from the monthly one,
/// the rest live from the ledger; a range that is exactly one closed year or month is ranked
/// straight from its summary's index.
pub async fn top_courses(
    conn: &mut AsyncPgConnection,
    rank: Rank,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<CourseTotals>> {
    let order = match rank {
        Rank::Revenue => "revenue DESC, sales DESC, course_id",
        Rank::Sales => "sales DESC, revenue DESC, course_id",
    };
    let years = COURSE_YEARS.prepare(conn, from, to, now).await?;
    let before = COURSE_MONTHS.prepare(conn, from, years.days_from, now).await?;
    let after = COURSE_MONTHS.prepare(conn, years.days_to, to, now).await?;
    let live: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        before.live().into_iter().chain(after.live()).filter(|(a, b)| a < b).collect();
    let months = [before, after].into_iter().filter(|m| !m.all_live()).collect::<Vec<_>>();
    let one = |s: &Split, p: Period| p.next(s.days_from) == Some(s.days_to);
    let single = match (years.all_live(), months.as_slice(), live.is_empty()) {
        (false, [], true) if one(&years, Period::Year) => Some(("course_sales_years", years.days_from)),
        (true, [m], true) if one(m, Period::Month) => Some(("course_sales_months", m.days_from)),
        _ => None,
    };
    if let Some((table, start)) = single {
        // Each currency's best rows straight off the summary's ranking index; the currencies by a
        // skip scan of the same index (a handful of probes, not a scan of every course).
        return diesel::sql_query(format!(
            "WITH RECURSIVE cur AS ( \
                 SELECT min(currency) AS code FROM {table} WHERE period_start = $1 \
                 UNION ALL \
                 SELECT (SELECT min(currency) FROM {table} WHERE period_start = $1 AND currency > cur.code) \
                   FROM cur WHERE cur.code IS NOT NULL) \
             SELECT t.course_id, c.title, t.currency, t.sales, t.refunds, t.revenue \
               FROM cur CROSS JOIN LATERAL ( \
                    SELECT course_id, currency, sales, refunds, revenue FROM {table} \
                     WHERE period_start = $1 AND currency = cur.code ORDER BY {order} LIMIT $2) AS t \
               JOIN courses c ON c.id = t.course_id \
              ORDER BY t.currency, {order}"
        ))
        .bind::<Date, _>(start.date_naive())
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await;
    }
    let mut ranges = live;
    ranges.resize(4, (to, to));
    let (b, a) = (before.days(), after.days());
    diesel::sql_query(format!(
        "SELECT t.course_id, c.title, t.currency, t.sales, t.refunds, t.revenue FROM ( \
             SELECT course_id, currency, sales, refunds, revenue, \
                    row_number() OVER (PARTITION BY currency ORDER BY {order}) AS place FROM ( \
                 SELECT course_id, currency, sum(sales)::bigint AS sales, sum(refunds)::bigint AS refunds, \
                        sum(revenue) AS revenue FROM ( \
                     SELECT course_id, currency, sales, refunds, revenue FROM course_sales_years \
                      WHERE period_start >= $2 AND period_start < $3 \
                     UNION ALL \
                     SELECT course_id, currency, sales, refunds, revenue FROM course_sales_months \
                      WHERE (period_start >= $4 AND period_start < $5) OR (period_start >= $6 AND period_start < $7) \
                     UNION ALL \
                     SELECT course_id, currency, count(*) FILTER (WHERE kind = 'sale'), \
                            count(*) FILTER (WHERE kind = 'refund'), sum(gross) \
                       FROM sales_ledger \
                      WHERE (occurred_at >= $8 AND occurred_at < $9) OR (occurred_at >= $10 AND occurred_at < $11) \
                         OR (occurred_at >= $12 AND occurred_at < $13) OR (occurred_at >= $14 AND occurred_at < $15) \
                      GROUP BY 1, 2) AS pieces \
                  GROUP BY 1, 2) AS per_course) AS t \
           JOIN courses c ON c.id = t.course_id \
          WHERE t.place <= $1 ORDER BY t.currency, t.place"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<Date, _>(years.days().0)
    .bind::<Date, _>(years.days().1)
    .bind::<Date, _>(b.0)
    .bind::<Date, _>(b.1)
    .bind::<Date, _>(a.0)
    .bind::<Date, _>(a.1)
    .bind::<Timestamptz, _>(ranges[0].0)
    .bind::<Timestamptz, _>(ranges[0].1)
    .bind::<Timestamptz, _>(ranges[1].0)
    .bind::<Timestamptz, _>(ranges[1].1)
    .bind::<Timestamptz, _>(ranges[2].0)
    .bind::<Timestamptz, _>(ranges[2].1)
    .bind::<Timestamptz, _>(ranges[3].0)
    .bind::<Timestamptz, _>(ranges[3].1)
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
