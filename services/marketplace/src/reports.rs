//! Marketplace's reports (issue 19): GMV and its split per interval, what is owed to instructors,
//! the best-selling courses, and an instructor's own sales. Each is one table, answered as JSON or
//! CSV by `platform::reports`; every amount is per currency and rounded to its minor unit.

use crate::store::sales::{self, CourseTotals, InstructorSales, IntervalTotals, PayoutState, Rank};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::money::{Currency, Money};
use platform::reports::{Bucket, Csv, CsvTable, Series};
use platform::Problem;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeSet;
use uuid::Uuid;

fn currency(code: &str) -> Result<Currency, Problem> {
    code.trim().parse().map_err(Problem::internal)
}

fn minor(amount: Decimal, currency: Currency) -> Decimal {
    Money::round(amount, currency).amount
}

/// The bucket `width_bucket` numbered `n` (1-based).
fn bucket(series: &Series, n: i32) -> Result<Bucket, Problem> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| series.buckets().get(i).copied())
        .ok_or_else(|| Problem::internal(format!("row outside the report's buckets: {n}")))
}

/// GMV and its split in one interval and currency. `gmv = gross_sales - refunded =
/// instructor_revenue + platform_revenue`, exactly, in every row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SalesRow {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub currency: Currency,
    /// Completed purchases of priced courses (free enrollments are not sales).
    pub sales: i64,
    /// Refunds applied (a purchase refunded in two parts counts twice).
    pub refunds: i64,
    /// What buyers paid for the sales of the interval.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "199.80")]
    pub gross_sales: Decimal,
    /// What went back to buyers in the interval, whenever the sale was.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "9.99")]
    pub refunded: Decimal,
    /// Voucher discounts on the interval's sales (funded by the platform; not part of GMV).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "5.00")]
    pub discounts: Decimal,
    /// Gross merchandise value: `gross_sales - refunded`.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "189.81")]
    pub gmv: Decimal,
    /// The instructors' shares, net of refund reversals.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "132.87")]
    pub instructor_revenue: Decimal,
    /// The platform's shares, net of reversals and of voucher discounts it absorbed.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "56.94")]
    pub platform_revenue: Decimal,
    /// Tax billing charged with the interval's sales less tax refunded in it: collected for the
    /// tax authorities, in neither GMV nor either share (every other amount here is net of it).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "3.80")]
    pub tax: Decimal,
}

impl CsvTable for SalesRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&[
            "period_start",
            "period_end",
            "currency",
            "sales",
            "refunds",
            "gross_sales",
            "refunded",
            "discounts",
            "gmv",
            "instructor_revenue",
            "platform_revenue",
            "tax",
        ]);
        for r in rows {
            csv.row([
                r.period_start.into(),
                r.period_end.into(),
                r.currency.code().into(),
                r.sales.into(),
                r.refunds.into(),
                r.gross_sales.into(),
                r.refunded.into(),
                r.discounts.into(),
                r.gmv.into(),
                r.instructor_revenue.into(),
                r.platform_revenue.into(),
                r.tax.into(),
            ]);
        }
        csv
    }
}

impl SalesRow {
    fn zero(b: Bucket, currency: Currency) -> Self {
        let z = Money::zero(currency).amount;
        Self {
            period_start: b.start,
            period_end: b.end,
            currency,
            sales: 0,
            refunds: 0,
            gross_sales: z,
            refunded: z,
            discounts: z,
            gmv: z,
            instructor_revenue: z,
            platform_revenue: z,
            tax: z,
        }
    }

    fn from_totals(b: Bucket, currency: Currency, t: &IntervalTotals) -> Self {
        Self {
            period_start: b.start,
            period_end: b.end,
            currency,
            sales: t.sales,
            refunds: t.refunds,
            gross_sales: minor(t.gross_sales, currency),
            refunded: minor(t.refunded, currency),
            discounts: minor(t.discounts, currency),
            gmv: minor(t.gmv, currency),
            instructor_revenue: minor(t.instructor_revenue, currency),
            platform_revenue: minor(t.platform_revenue, currency),
            tax: minor(t.tax, currency),
        }
    }
}

/// Every bucket once per currency sold in the range, empty buckets as zeros, in time then
/// currency order. Days closed at `now` come from per-day summaries, the rest live
/// (`sales::by_interval`); both give the same rows.
pub async fn sales(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> Result<Vec<SalesRow>, Problem> {
    let found = sales::by_interval(conn, series, now).await?;
    let mut keyed = Vec::with_capacity(found.len());
    for t in &found {
        keyed.push((bucket(series, t.bucket)?, currency(&t.currency)?, t));
    }
    let currencies: BTreeSet<&str> = keyed.iter().map(|(_, c, _)| c.code()).collect();
    let mut rows = Vec::new();
    for b in series.buckets() {
        for code in &currencies {
            let c = currency(code)?;
            let row = match keyed.iter().find(|(kb, kc, _)| kb.start == b.start && kc.code() == *code) {
                Some((_, _, t)) => SalesRow::from_totals(*b, c, t),
                None => SalesRow::zero(*b, c),
            };
            rows.push(row);
        }
    }
    Ok(rows)
}

/// What instructors are owed and have been paid, in one currency, now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PayoutRow {
    pub currency: Currency,
    /// Earnings still inside the refund window.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "70.00")]
    pub pending: Decimal,
    /// Payouts owed: earnings past the refund window not yet requested (negative adjustments
    /// from refunds of paid-out sales netted in).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "140.00")]
    pub available: Decimal,
    /// Requested payouts not yet marked paid.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "35.00")]
    pub in_payout: Decimal,
    /// Payouts marked paid, since the start.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "1050.00")]
    pub paid: Decimal,
}

impl CsvTable for PayoutRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&["currency", "pending", "available", "in_payout", "paid"]);
        for r in rows {
            csv.row([
                r.currency.code().into(),
                r.pending.into(),
                r.available.into(),
                r.in_payout.into(),
                r.paid.into(),
            ]);
        }
        csv
    }
}

pub async fn payouts(conn: &mut AsyncPgConnection) -> Result<Vec<PayoutRow>, Problem> {
    let states: Vec<PayoutState> = sales::payout_states(conn).await?;
    let mut rows: Vec<PayoutRow> = Vec::new();
    for s in &states {
        let c = currency(&s.currency)?;
        let at = match rows.iter().position(|r| r.currency == c) {
            Some(i) => i,
            None => {
                let z = Money::zero(c).amount;
                rows.push(PayoutRow { currency: c, pending: z, available: z, in_payout: z, paid: z });
                rows.len() - 1
            }
        };
        let row = &mut rows[at];
        let amount = minor(s.amount, c);
        match s.state.as_str() {
            "pending" => row.pending = amount,
            "available" => row.available = amount,
            "in_payout" => row.in_payout = amount,
            "paid" => row.paid = amount,
            other => return Err(Problem::internal(format!("unknown payout state {other}"))),
        }
    }
    rows.sort_by(|a, b| a.currency.code().cmp(b.currency.code()));
    Ok(rows)
}

/// A course's sales over the report's range, in one currency, with its place in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TopCourseRow {
    /// 1 for the best course of its currency.
    pub rank: i64,
    pub course_id: Uuid,
    pub title: String,
    pub currency: Currency,
    pub sales: i64,
    pub refunds: i64,
    /// What buyers paid, net of refunds (the course's GMV).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "499.50")]
    pub revenue: Decimal,
}

impl CsvTable for TopCourseRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&["rank", "course_id", "title", "currency", "sales", "refunds", "revenue"]);
        for r in rows {
            csv.row([
                r.rank.into(),
                r.course_id.to_string().into(),
                r.title.clone().into(),
                r.currency.code().into(),
                r.sales.into(),
                r.refunds.into(),
                r.revenue.into(),
            ]);
        }
        csv
    }
}

pub async fn top_courses(
    conn: &mut AsyncPgConnection,
    rank: Rank,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<TopCourseRow>, Problem> {
    let found: Vec<CourseTotals> = sales::top_courses(conn, rank, from, to, now, limit).await?;
    let mut rows: Vec<TopCourseRow> = Vec::with_capacity(found.len());
    for t in found {
        let c = currency(&t.currency)?;
        let place = rows.iter().filter(|r| r.currency == c).count() as i64 + 1;
        rows.push(TopCourseRow {
            rank: place,
            course_id: t.course_id,
            title: t.title,
            currency: c,
            sales: t.sales,
            refunds: t.refunds,
            revenue: minor(t.revenue, c),
        });
    }
    Ok(rows)
}

/// An instructor's sales of one course in one interval and currency. Only intervals with sales or
/// refunds of the course have a row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InstructorSalesRow {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub course_id: Uuid,
    pub title: String,
    pub currency: Currency,
    pub sales: i64,
    pub refunds: i64,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "99.90")]
    pub gross_sales: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "9.99")]
    pub refunded: Decimal,
    /// The instructor's share of the interval's sales, net of refund reversals.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "62.94")]
    pub earnings: Decimal,
}

impl CsvTable for InstructorSalesRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&[
            "period_start",
            "period_end",
            "course_id",
            "title",
            "currency",
            "sales",
            "refunds",
            "gross_sales",
            "refunded",
            "earnings",
        ]);
        for r in rows {
            csv.row([
                r.period_start.into(),
                r.period_end.into(),
                r.course_id.to_string().into(),
                r.title.clone().into(),
                r.currency.code().into(),
                r.sales.into(),
                r.refunds.into(),
                r.gross_sales.into(),
                r.refunded.into(),
                r.earnings.into(),
            ]);
        }
        csv
    }
}

pub async fn instructor_sales(
    conn: &mut AsyncPgConnection,
    instructor: Uuid,
    series: &Series,
) -> Result<Vec<InstructorSalesRow>, Problem> {
    let found: Vec<InstructorSales> =
        sales::for_instructor(conn, instructor, &series.starts(), series.from(), series.to()).await?;
    found
        .into_iter()
        .map(|s| {
            let b = bucket(series, s.bucket)?;
            let c = currency(&s.currency)?;
            Ok(InstructorSalesRow {
                period_start: b.start,
                period_end: b.end,
                course_id: s.course_id,
                title: s.title,
                currency: c,
                sales: s.sales,
                refunds: s.refunds,
                gross_sales: minor(s.gross_sales, c),
                refunded: minor(s.refunded, c),
                earnings: minor(s.earnings, c),
            })
        })
        .collect()
}
