//! Rewards' reports (issue 19): tokens moved per interval by ledger kind, vouchers issued, used and
//! expired per interval and currency, and the outstanding tokens valued as a liability.

use crate::domain::liability::{self, Priced};
use crate::store::reports as store;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::money::{Currency, Money};
use platform::reports::{Bucket, Csv, CsvTable, Series};
use platform::Problem;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeSet;

fn currency(code: &str) -> Result<Currency, Problem> {
    code.trim().parse().map_err(Problem::internal)
}

/// The bucket `width_bucket` numbered `n` (1-based).
fn bucket(series: &Series, n: i32) -> Result<Bucket, Problem> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| series.buckets().get(i).copied())
        .ok_or_else(|| Problem::internal(format!("row outside the report's buckets: {n}")))
}

/// Tokens moved in one interval, by ledger kind, each as a positive count of tokens.
/// `net = earned + awarded - redeemed - clawed_back - expired`: the change of all balances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenFlowRow {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Awarded by earning rules (purchases, reviews, renewals).
    pub earned: i64,
    /// Awarded by admins.
    pub awarded: i64,
    /// Spent on catalogue items.
    pub redeemed: i64,
    /// Taken back after refunds (may exceed the balance: the rest becomes debt).
    pub clawed_back: i64,
    /// Taken by expiry.
    pub expired: i64,
    pub net: i64,
}

impl CsvTable for TokenFlowRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv =
            Csv::new(&["period_start", "period_end", "earned", "awarded", "redeemed", "clawed_back", "expired", "net"]);
        for r in rows {
            csv.row([
                r.period_start.into(),
                r.period_end.into(),
                r.earned.into(),
                r.awarded.into(),
                r.redeemed.into(),
                r.clawed_back.into(),
                r.expired.into(),
                r.net.into(),
            ]);
        }
        csv
    }
}

/// One row per bucket, zeros where nothing moved. Days closed at `now` are read from per-day
/// summaries, the rest live (`store::flows`); both give the same rows.
pub async fn token_flows(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> Result<Vec<TokenFlowRow>, Problem> {
    let mut rows: Vec<TokenFlowRow> = series
        .buckets()
        .iter()
        .map(|b| TokenFlowRow { period_start: b.start, period_end: b.end, ..Default::default() })
        .collect();
    for f in store::flows(conn, series, now).await? {
        let b = bucket(series, f.bucket)?;
        let Some(row) = rows.iter_mut().find(|r| r.period_start == b.start) else { continue };
        let slot = match f.kind.as_str() {
            crate::ledger::EARN => &mut row.earned,
            crate::ledger::AWARD => &mut row.awarded,
            crate::ledger::REDEEM => &mut row.redeemed,
            crate::ledger::CLAWBACK => &mut row.clawed_back,
            crate::ledger::EXPIRE => &mut row.expired,
            other => return Err(Problem::internal(format!("unknown ledger kind {other}"))),
        };
        *slot = f.tokens;
    }
    for r in &mut rows {
        r.net = r.earned + r.awarded - r.redeemed - r.clawed_back - r.expired;
    }
    Ok(rows)
}

/// Vouchers in one interval and currency: issued (by a redemption), used (by a completed
/// purchase) and expired (reached their end unused), with their face values.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VoucherRow {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub currency: Currency,
    pub issued: i64,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "50.00")]
    pub issued_value: Decimal,
    pub used: i64,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "35.00")]
    pub used_value: Decimal,
    pub expired: i64,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "5.00")]
    pub expired_value: Decimal,
}

impl CsvTable for VoucherRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&[
            "period_start",
            "period_end",
            "currency",
            "issued",
            "issued_value",
            "used",
            "used_value",
            "expired",
            "expired_value",
        ]);
        for r in rows {
            csv.row([
                r.period_start.into(),
                r.period_end.into(),
                r.currency.code().into(),
                r.issued.into(),
                r.issued_value.into(),
                r.used.into(),
                r.used_value.into(),
                r.expired.into(),
                r.expired_value.into(),
            ]);
        }
        csv
    }
}

/// Every bucket once per currency with vouchers in the range, zeros where nothing happened.
pub async fn vouchers(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> Result<Vec<VoucherRow>, Problem> {
    let found = store::voucher_flows(conn, series, now).await?;
    let currencies: BTreeSet<&str> = found.iter().map(|f| f.currency.trim()).collect();
    let mut rows = Vec::new();
    for b in series.buckets() {
        for code in &currencies {
            let c = currency(code)?;
            let z = Money::zero(c).amount;
            rows.push(VoucherRow {
                period_start: b.start,
                period_end: b.end,
                currency: c,
                issued: 0,
                issued_value: z,
                used: 0,
                used_value: z,
                expired: 0,
                expired_value: z,
            });
        }
    }
    for f in &found {
        let b = bucket(series, f.bucket)?;
        let c = currency(&f.currency)?;
        let Some(row) = rows.iter_mut().find(|r| r.period_start == b.start && r.currency == c) else { continue };
        let value = Money::round(f.value, c).amount;
        match f.event.as_str() {
            "issued" => (row.issued, row.issued_value) = (f.vouchers, value),
            "used" => (row.used, row.used_value) = (f.vouchers, value),
            "expired" => (row.expired, row.expired_value) = (f.vouchers, value),
            other => return Err(Problem::internal(format!("unknown voucher event {other}"))),
        }
    }
    Ok(rows)
}

/// The outstanding tokens valued in one currency, and the vouchers still open in it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiabilityRow {
    pub currency: Currency,
    /// Spendable tokens of every account (the same in every row).
    pub outstanding_tokens: i64,
    /// The catalogue item that values a token best in this currency.
    pub valued_by: String,
    /// Its cost in tokens and its value.
    pub item_cost: i64,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "5.00")]
    pub item_value: Decimal,
    /// `outstanding_tokens * item_value / item_cost`, rounded half-even to the minor unit.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "16666.67")]
    pub token_liability: Decimal,
    /// Vouchers redeemed and still usable (issued or held by a purchase, unexpired).
    pub open_vouchers: i64,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "25.00")]
    pub open_voucher_value: Decimal,
}

impl CsvTable for LiabilityRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&[
            "currency",
            "outstanding_tokens",
            "valued_by",
            "item_cost",
            "item_value",
            "token_liability",
            "open_vouchers",
            "open_voucher_value",
        ]);
        for r in rows {
            csv.row([
                r.currency.code().into(),
                r.outstanding_tokens.into(),
                r.valued_by.clone().into(),
                r.item_cost.into(),
                r.item_value.into(),
                r.token_liability.into(),
                r.open_vouchers.into(),
                r.open_voucher_value.into(),
            ]);
        }
        csv
    }
}

/// Outstanding tokens now, and their value per currency.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Liability {
    pub as_of: DateTime<Utc>,
    /// Spendable tokens of every account: what holders may still redeem.
    pub outstanding_tokens: i64,
    /// Tokens clawed back beyond a balance, to be covered by future earnings.
    pub debt_tokens: i64,
    /// Accounts with spendable tokens.
    pub holders: i64,
    pub data: Vec<LiabilityRow>,
}

impl platform::reports::Envelope for Liability {
    type Row = LiabilityRow;
    fn rows(&self) -> &[LiabilityRow] {
        &self.data
    }
}

pub async fn liability(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<Liability, Problem> {
    let outstanding = store::outstanding(conn).await?;
    let mut priced = Vec::new();
    for i in store::valued_items(conn).await? {
        let c = currency(&i.currency)?;
        priced.push(Priced { item: i.item, cost: i.cost, value: Money::round(i.value, c) });
    }
    let open = store::open_vouchers(conn, now).await?;
    let mut data = Vec::new();
    for l in liability::at_catalogue_value(outstanding.spendable, &priced) {
        let c = l.amount.currency;
        let (count, value) =
            open.iter().find(|o| o.currency.trim() == c.code()).map_or((0, Decimal::ZERO), |o| (o.vouchers, o.value));
        data.push(LiabilityRow {
            currency: c,
            outstanding_tokens: outstanding.spendable,
            valued_by: l.item,
            item_cost: l.cost,
            item_value: l.value.amount,
            token_liability: l.amount.amount,
            open_vouchers: count,
            open_voucher_value: Money::round(value, c).amount,
        });
    }
    Ok(Liability {
        as_of: now,
        outstanding_tokens: outstanding.spendable,
        debt_tokens: outstanding.debt,
        holders: outstanding.holders,
        data,
    })
}
