//! The payments report (`GET /api/admin/reports/payments`): attempts and their outcomes, success
//! rates, refunds and revenue by purpose per bucket and currency, read from `payment_outcomes`.
//! The definitions are in docs/api.md ("Payments report").

use crate::store::outcomes::{self, Cohort, OutcomeTotal};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::money::{Currency, Money};
use platform::reports::{self, Bucket, Cell, Csv, CsvTable, Series};
use platform::Problem;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What billing takes payments for (`payments.purpose`): each has its revenue in every row.
pub const PURPOSES: [&str; 3] = ["subscription", "course_purchase", "license"];

/// Revenue of one purpose in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PurposeRevenue {
    /// Payments that succeeded in the bucket.
    #[schema(value_type = String, example = "99.00")]
    pub gross: Decimal,
    /// `gross` less the refunds confirmed in the bucket (of payments of this purpose, whenever paid).
    #[schema(value_type = String, example = "89.01")]
    pub net: Decimal,
}

/// One bucket of one currency.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = PaymentsReportRow)]
pub struct Row {
    pub period_start: chrono::DateTime<chrono::Utc>,
    pub period_end: chrono::DateTime<chrono::Utc>,
    pub currency: Currency,
    /// Payment attempts whose outcome was applied in the bucket: `succeeded + failed`.
    pub attempts: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Failed attempts by Stripe's decline code (`unknown` when Stripe gave none).
    pub failed_by_decline_code: BTreeMap<String, i64>,
    /// Payments whose first attempt was in the bucket: the cohort the two success rates describe.
    pub payments_first_attempted: i64,
    /// Share of the cohort that succeeded at the first attempt (4 decimals); null for no cohort.
    #[schema(value_type = Option<String>, example = "0.9500")]
    pub first_attempt_success_rate: Option<Decimal>,
    /// Share of the cohort that succeeded at any attempt before the report's `to`.
    #[schema(value_type = Option<String>, example = "0.9900")]
    pub eventual_success_rate: Option<Decimal>,
    /// Refunds confirmed by Stripe in the bucket (less those that failed after confirmation).
    pub refunds: i64,
    #[schema(value_type = String)]
    pub refunded_amount: Decimal,
    /// `refunds / succeeded`, 4 decimals; null when nothing succeeded.
    #[schema(value_type = Option<String>)]
    pub refund_rate: Option<Decimal>,
    #[schema(value_type = String)]
    pub gross_revenue: Decimal,
    /// `gross_revenue - refunded_amount`.
    #[schema(value_type = String)]
    pub net_revenue: Decimal,
    /// `subscription`, `course_purchase` and `license`, always all three.
    pub revenue_by_purpose: BTreeMap<String, PurposeRevenue>,
}

/// Summarise the closed days not done yet, then read the history in one snapshot (both queries
/// add up): closed days from the per-day summaries, the rest live.
pub async fn payments(conn: &mut AsyncPgConnection, series: &Series, now: DateTime<Utc>) -> Result<Vec<Row>, Problem> {
    let split = outcomes::OUTCOME_DAYS.prepare(conn, series.from(), series.to(), now).await?;
    let starts = series.starts();
    let (totals, cohorts) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |c| {
            let totals = outcomes::totals(c, &starts, &split).await?;
            let cohorts = outcomes::cohorts(c, &starts, &split).await?;
            Ok::<_, Problem>((totals, cohorts))
        })
        .await?;
    fold(series, &totals, &cohorts)
}

/// One row per bucket for every currency seen in the range.
pub fn fold(series: &Series, totals: &[OutcomeTotal], cohorts: &[Cohort]) -> Result<Vec<Row>, Problem> {
    let currencies: BTreeSet<&str> =
        totals.iter().map(|t| t.currency.as_str()).chain(cohorts.iter().map(|c| c.currency.as_str())).collect();
    let mut rows = Vec::new();
    for (i, bucket) in series.buckets().iter().enumerate() {
        let number = i as i32 + 1;
        for code in &currencies {
            let currency: Currency = code.parse().map_err(Problem::internal)?;
            let here = |t: &&OutcomeTotal| t.bucket == number && t.currency == *code;
            let in_bucket: Vec<&OutcomeTotal> = totals.iter().filter(here).collect();
            let cohort = cohorts.iter().find(|c| c.bucket == number && c.currency == *code);
            rows.push(row(bucket, currency, &in_bucket, cohort));
        }
    }
    Ok(rows)
}

fn row(bucket: &Bucket, currency: Currency, totals: &[&OutcomeTotal], cohort: Option<&Cohort>) -> Row {
    let money = |d: Decimal| Money::round(d, currency).amount;
    let count = |kind: &str| totals.iter().filter(|t| t.kind == kind).map(|t| t.count).sum::<i64>();
    let amount = |kind: &str, purpose: Option<&str>| {
        totals
            .iter()
            .filter(|t| t.kind == kind && purpose.is_none_or(|p| t.purpose == p))
            .map(|t| t.amount)
            .sum::<Decimal>()
    };
    let mut failed_by_decline_code = BTreeMap::new();
    for t in totals.iter().filter(|t| t.kind == outcomes::FAILED) {
        *failed_by_decline_code.entry(t.decline_code.clone().unwrap_or_else(|| "unknown".into())).or_insert(0) +=
            t.count;
    }
    let refunded =
        |purpose: Option<&str>| amount(outcomes::REFUNDED, purpose) - amount(outcomes::REFUND_REVERSED, purpose);
    let revenue_by_purpose = PURPOSES
        .iter()
        .map(|p| {
            let gross = amount(outcomes::SUCCEEDED, Some(p));
            (p.to_string(), PurposeRevenue { gross: money(gross), net: money(gross - refunded(Some(p))) })
        })
        .collect();
    let (succeeded, failed) = (count(outcomes::SUCCEEDED), count(outcomes::FAILED));
    let refunds = count(outcomes::REFUNDED) - count(outcomes::REFUND_REVERSED);
    let cohort_size = cohort.map_or(0, |c| c.payments);
    let share = |n: i64| reports::rate(Decimal::from(n), Decimal::from(cohort_size));
    let gross = amount(outcomes::SUCCEEDED, None);
    Row {
        period_start: bucket.start,
        period_end: bucket.end,
        currency,
        attempts: succeeded + failed,
        succeeded,
        failed,
        failed_by_decline_code,
        payments_first_attempted: cohort_size,
        first_attempt_success_rate: share(cohort.map_or(0, |c| c.first_attempt_succeeded)),
        eventual_success_rate: share(cohort.map_or(0, |c| c.eventually_succeeded)),
        refunds,
        refunded_amount: money(refunded(None)),
        refund_rate: reports::rate(Decimal::from(refunds), Decimal::from(succeeded)),
        gross_revenue: money(gross),
        net_revenue: money(gross - refunded(None)),
        revenue_by_purpose,
    }
}

/// The fixed columns; `gross.<purpose>`, `net.<purpose>` and `failed.<decline_code>` follow.
const COLUMNS: [&str; 14] = [
    "period_start",
    "period_end",
    "currency",
    "attempts",
    "succeeded",
    "failed",
    "payments_first_attempted",
    "first_attempt_success_rate",
    "eventual_success_rate",
    "refunds",
    "refunded_amount",
    "refund_rate",
    "gross_revenue",
    "net_revenue",
];

/// The CSV form: the fixed columns, `gross.<purpose>` and `net.<purpose>` for each purpose, then
/// `failed.<decline_code>` for every code any row has (0 where a row has none).
impl CsvTable for Row {
    fn csv(rows: &[Self]) -> Csv {
        let codes: BTreeSet<&str> =
            rows.iter().flat_map(|r| r.failed_by_decline_code.keys().map(String::as_str)).collect();
        let header: Vec<String> = COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(PURPOSES.iter().flat_map(|p| [format!("gross.{p}"), format!("net.{p}")]))
            .chain(codes.iter().map(|c| format!("failed.{c}")))
            .collect();
        let mut csv = Csv::new(&header);
        for r in rows {
            let fixed: Vec<Cell> = vec![
                r.period_start.into(),
                r.period_end.into(),
                r.currency.code().into(),
                r.attempts.into(),
                r.succeeded.into(),
                r.failed.into(),
                r.payments_first_attempted.into(),
                r.first_attempt_success_rate.into(),
                r.eventual_success_rate.into(),
                r.refunds.into(),
                r.refunded_amount.into(),
                r.refund_rate.into(),
                r.gross_revenue.into(),
                r.net_revenue.into(),
            ];
            let purposes = PURPOSES.iter().flat_map(|p| {
                let rev = r.revenue_by_purpose.get(*p);
                [Cell::from(rev.map(|v| v.gross)), Cell::from(rev.map(|v| v.net))]
            });
            let failed = codes.iter().map(|c| Cell::Int(r.failed_by_decline_code.get(*c).copied().unwrap_or_default()));
            csv.row(fixed.into_iter().chain(purposes).chain(failed));
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use platform::reports::Interval;
    use std::str::FromStr;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn total(bucket: i32, kind: &str, purpose: &str, code: Option<&str>, count: i64, amount: &str) -> OutcomeTotal {
        OutcomeTotal {
            bucket,
            currency: "USD".into(),
            kind: kind.into(),
            purpose: purpose.into(),
            decline_code: code.map(str::to_string),
            count,
            amount: d(amount),
        }
    }

    fn series() -> Series {
        Series::new(t("2026-01-01T00:00:00Z"), t("2026-03-01T00:00:00Z"), Interval::Month).expect("series")
    }

    #[test]
    fn outcomes_fold_into_rates_refunds_and_revenue_by_purpose() {
        let totals = [
            total(1, "succeeded", "subscription", None, 3, "29.9700"),
            total(1, "succeeded", "course_purchase", None, 1, "50"),
            total(1, "failed", "subscription", Some("insufficient_funds"), 2, "19.98"),
            total(1, "failed", "course_purchase", None, 1, "50"),
            total(1, "refunded", "course_purchase", None, 1, "20"),
            total(2, "refunded", "subscription", None, 2, "19.98"),
            total(2, "refund_reversed", "subscription", None, 1, "9.99"),
        ];
        let cohorts = [Cohort {
            bucket: 1,
            currency: "USD".into(),
            payments: 5,
            first_attempt_succeeded: 3,
            eventually_succeeded: 4,
        }];
        let rows = fold(&series(), &totals, &cohorts).expect("rows");
        assert_eq!(rows.len(), 2);
        let jan = &rows[0];
        assert_eq!((jan.attempts, jan.succeeded, jan.failed), (7, 4, 3));
        assert_eq!(
            jan.failed_by_decline_code,
            BTreeMap::from([("insufficient_funds".into(), 2), ("unknown".into(), 1)])
        );
        assert_eq!((jan.first_attempt_success_rate, jan.eventual_success_rate), (Some(d("0.6")), Some(d("0.8"))));
        assert_eq!((jan.refunds, jan.refunded_amount, jan.refund_rate), (1, d("20.00"), Some(d("0.25"))));
        assert_eq!((jan.gross_revenue, jan.net_revenue), (d("79.97"), d("59.97")));
        assert_eq!(jan.revenue_by_purpose["course_purchase"], PurposeRevenue { gross: d("50.00"), net: d("30.00") });
        assert_eq!(jan.revenue_by_purpose["license"], PurposeRevenue { gross: d("0.00"), net: d("0.00") });
        let feb = &rows[1];
        assert_eq!((feb.refunds, feb.refunded_amount, feb.net_revenue), (1, d("9.99"), d("-9.99")));
        assert_eq!((feb.refund_rate, feb.first_attempt_success_rate), (None, None), "nothing to divide by");
    }

    #[test]
    fn csv_has_purpose_and_decline_code_columns() {
        let totals = [total(1, "failed", "subscription", Some("card_declined"), 1, "9.99")];
        let rows = fold(&series(), &totals, &[]).expect("rows");
        let csv = Row::csv(&rows).finish();
        let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "period_start,period_end,currency,attempts,succeeded,failed,payments_first_attempted,\
             first_attempt_success_rate,eventual_success_rate,refunds,refunded_amount,refund_rate,gross_revenue,\
             net_revenue,gross.subscription,net.subscription,gross.course_purchase,net.course_purchase,gross.license,\
             net.license,failed.card_declined"
        );
        assert_eq!(
            lines[1],
            "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,USD,1,0,1,0,,,0,0.00,,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,1"
        );
        assert!(lines[2].ends_with(",0"), "a code absent from a row is 0: {}", lines[2]);
    }
}

/// One bucket of one currency and one country in the tax report
/// (`GET /api/admin/reports/payments/tax`): tax invoiced, tax credited back by credit notes, and
/// what stays collected. Never adds currencies together.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TaxRow {
    pub period_start: chrono::DateTime<chrono::Utc>,
    pub period_end: chrono::DateTime<chrono::Utc>,
    pub currency: Currency,
    /// The customer's billing country (ISO 3166-1 alpha-2); empty for customers without billing
    /// details (untaxed).
    pub country: String,
    pub invoices: i64,
    pub credit_notes: i64,
    /// Net (revenue) invoiced, less what credit notes gave back.
    #[schema(value_type = String)]
    pub net: Decimal,
    #[schema(value_type = String)]
    pub tax_invoiced: Decimal,
    #[schema(value_type = String)]
    pub tax_credited: Decimal,
    /// `tax_invoiced - tax_credited`.
    #[schema(value_type = String)]
    pub tax_collected: Decimal,
}

/// Tax per bucket, currency and country, read live from invoices and credit notes.
pub async fn tax(conn: &mut AsyncPgConnection, series: &Series) -> Result<Vec<TaxRow>, Problem> {
    let totals = crate::store::invoices::tax_totals(conn, &series.starts(), series.from(), series.to()).await?;
    fold_tax(series, &totals)
}

pub fn fold_tax(series: &Series, totals: &[crate::store::invoices::TaxTotal]) -> Result<Vec<TaxRow>, Problem> {
    let keys: BTreeSet<(&str, &str)> = totals.iter().map(|t| (t.currency.as_str(), t.country.as_str())).collect();
    let mut rows = Vec::new();
    for (i, bucket) in series.buckets().iter().enumerate() {
        let number = i as i32 + 1;
        for (code, country) in &keys {
            let currency: Currency = code.parse().map_err(Problem::internal)?;
            let here: Vec<_> =
                totals.iter().filter(|t| t.bucket == number && t.currency == *code && t.country == *country).collect();
            if here.is_empty() {
                continue;
            }
            let sum = |kind: &str, f: fn(&crate::store::invoices::TaxTotal) -> Decimal| {
                here.iter().filter(|t| t.kind == kind).map(|t| f(t)).sum::<Decimal>()
            };
            let count = |kind: &str| here.iter().filter(|t| t.kind == kind).map(|t| t.documents).sum::<i64>();
            let money = |d: Decimal| Money::round(d, currency).amount;
            let (tax_invoiced, tax_credited) = (sum("invoice", |t| t.tax), sum("credit_note", |t| t.tax));
            rows.push(TaxRow {
                period_start: bucket.start,
                period_end: bucket.end,
                currency,
                country: country.to_string(),
                invoices: count("invoice"),
                credit_notes: count("credit_note"),
                net: money(sum("invoice", |t| t.net) - sum("credit_note", |t| t.net)),
                tax_invoiced: money(tax_invoiced),
                tax_credited: money(tax_credited),
                tax_collected: money(tax_invoiced - tax_credited),
            });
        }
    }
    Ok(rows)
}

impl CsvTable for TaxRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&[
            "period_start",
            "period_end",
            "currency",
            "country",
            "invoices",
            "credit_notes",
            "net",
            "tax_invoiced",
            "tax_credited",
            "tax_collected",
        ]);
        for r in rows {
            csv.row([
                r.period_start.into(),
                r.period_end.into(),
                r.currency.code().into(),
                r.country.as_str().into(),
                r.invoices.into(),
                r.credit_notes.into(),
                r.net.into(),
                r.tax_invoiced.into(),
                r.tax_credited.into(),
                r.tax_collected.into(),
            ]);
        }
        csv
    }
}
