//! The rewards report's queries: token flows and vouchers per interval (buckets of
//! `platform::reports::Series`, numbered by `width_bucket`), outstanding tokens and what the catalogue says they are worth.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bpchar, Date, Integer, Numeric, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::reports::{DailySummary, Period, Series};
use rust_decimal::Decimal;

/// Tokens moved by one ledger kind in one interval; `tokens` is positive for every kind.
#[derive(Debug, Clone, QueryableByName)]
pub struct Flow {
    /// 1-based index into the report's buckets (PostgreSQL's `width_bucket`).
    #[diesel(sql_type = Integer)]
    pub bucket: i32,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub entries: i64,
}

/// The per-day summary of the token ledger the tokens report reads for closed days.
pub const TOKEN_FLOW_DAYS: DailySummary = DailySummary {
    period: Period::Day,
    done: "token_flow_days_done",
    inserts: &["INSERT INTO token_flow_days (day, kind, amount, entries) \
                SELECT (t.created_at AT TIME ZONE 'UTC')::date, t.kind, sum(t.amount), count(*) \
                  FROM span JOIN token_transactions t ON t.created_at >= span.lo AND t.created_at < span.hi \
                 WHERE (t.created_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing) \
                 GROUP BY 1, 2"],
};

/// Tokens per bucket and kind over `series`: whole days closed at `now` from the per-day
/// summaries (summarising the ones not yet done), the rest (partial edge days, today) live from
/// the ledger.
pub async fn flows(conn: &mut AsyncPgConnection, series: &Series, now: DateTime<Utc>) -> QueryResult<Vec<Flow>> {
    let split = TOKEN_FLOW_DAYS.prepare(conn, series.from(), series.to(), now).await?;
    let (days_from, days_to) = split.days();
    diesel::sql_query(
        "SELECT width_bucket(at, $1) AS bucket, kind, abs(sum(amount))::bigint AS tokens, \
                sum(entries)::bigint AS entries \
           FROM ( \
             SELECT day::timestamp AT TIME ZONE 'UTC' AS at, kind, amount, entries FROM token_flow_days \
              WHERE day >= $4 AND day < $5 \
             UNION ALL \
             SELECT created_at, kind, amount, 1 FROM token_transactions WHERE created_at >= $2 AND created_at < $6 \
             UNION ALL \
             SELECT created_at, kind, amount, 1 FROM token_transactions WHERE created_at >= $7 AND created_at < $3 \
           ) AS f GROUP BY 1, 2 ORDER BY 1, 2",
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

/// Vouchers that changed in one interval and currency: `event` is `issued`, `used` (consumed by a
/// completed purchase) or `expired` (reached `expires_at` unused, at or before `now`).
#[derive(Debug, Clone, QueryableByName)]
pub struct VoucherFlow {
    /// 1-based index into the report's buckets (PostgreSQL's `width_bucket`).
    #[diesel(sql_type = Integer)]
    pub bucket: i32,
    #[diesel(sql_type = Text)]
    pub event: String,
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub vouchers: i64,
    #[diesel(sql_type = Numeric)]
    pub value: Decimal,
}

/// Vouchers issued per day and currency, the voucher report's summary of closed days.
pub const VOUCHER_ISSUE_DAYS: DailySummary = DailySummary {
    period: Period::Day,
    done: "voucher_issue_days_done",
    inserts: &["INSERT INTO voucher_issue_days (day, currency, vouchers, value) \
                SELECT (v.issued_at AT TIME ZONE 'UTC')::date, v.currency, count(*), sum(v.discount) \
                  FROM span JOIN vouchers v ON v.issued_at >= span.lo AND v.issued_at < span.hi \
                 WHERE (v.issued_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing) \
                 GROUP BY 1, 2"],
};

pub async fn voucher_flows(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> QueryResult<Vec<VoucherFlow>> {
    let split = VOUCHER_ISSUE_DAYS.prepare(conn, series.from(), series.to(), now).await?;
    let (days_from, days_to) = split.days();
    // A voucher expires by time: its status flips to `expired` only when something touches it, so
    // an unused (issued) voucher past `expires_at` counts as expired at `expires_at`.
    diesel::sql_query(
        "SELECT width_bucket(at, $1) AS bucket, event, currency, sum(n)::bigint AS vouchers, sum(discount) AS value \
           FROM ( \
             SELECT day::timestamp AT TIME ZONE 'UTC' AS at, 'issued' AS event, currency, vouchers AS n, \
                    value AS discount FROM voucher_issue_days WHERE day >= $5 AND day < $6 \
             UNION ALL \
             SELECT issued_at, 'issued', currency, 1, discount FROM vouchers \
              WHERE (issued_at >= $2 AND issued_at < $7) OR (issued_at >= $8 AND issued_at < $3) \
             UNION ALL \
             SELECT consumed_at, 'used', currency, 1, discount FROM vouchers \
              WHERE consumed_at >= $2 AND consumed_at < $3 \
             UNION ALL \
             SELECT expires_at, 'expired', currency, 1, discount FROM vouchers \
              WHERE expires_at >= $2 AND expires_at < LEAST($3, $4) AND status IN ('issued', 'expired') \
           ) AS v GROUP BY 1, 2, 3 ORDER BY 1, 3, 2",
    )
    .bind::<Array<Timestamptz>, _>(series.starts())
    .bind::<Timestamptz, _>(series.from())
    .bind::<Timestamptz, _>(series.to())
    .bind::<Timestamptz, _>(now)
    .bind::<Date, _>(days_from)
    .bind::<Date, _>(days_to)
    .bind::<Timestamptz, _>(split.days_from)
    .bind::<Timestamptz, _>(split.days_to)
    .load(conn)
    .await
}

/// Every account's tokens now: spendable (the liability) and debt (clawbacks not yet covered).
#[derive(Debug, Clone, QueryableByName)]
pub struct Outstanding {
    #[diesel(sql_type = BigInt)]
    pub spendable: i64,
    #[diesel(sql_type = BigInt)]
    pub debt: i64,
    #[diesel(sql_type = BigInt)]
    pub holders: i64,
}

pub async fn outstanding(conn: &mut AsyncPgConnection) -> QueryResult<Outstanding> {
    diesel::sql_query(
        "SELECT coalesce(sum(spendable), 0)::bigint AS spendable, coalesce(sum(debt), 0)::bigint AS debt, \
                count(*) FILTER (WHERE spendable > 0) AS holders FROM token_balances",
    )
    .get_result(conn)
    .await
}

/// An active catalogue item with a money value.
#[derive(Debug, Clone, QueryableByName)]
pub struct ValuedItem {
    #[diesel(sql_type = Text)]
    pub item: String,
    #[diesel(sql_type = BigInt)]
    pub cost: i64,
    #[diesel(sql_type = Numeric)]
    pub value: Decimal,
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
}

pub async fn valued_items(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ValuedItem>> {
    diesel::sql_query(
        "SELECT item, cost, value, value_currency AS currency FROM catalog_items \
          WHERE active AND value IS NOT NULL ORDER BY item",
    )
    .load(conn)
    .await
}

/// Vouchers that can still be used (issued or reserved by a purchase, not expired), per currency:
/// redeemed tokens the platform still owes as a discount.
#[derive(Debug, Clone, QueryableByName)]
pub struct OpenVouchers {
    #[diesel(sql_type = Bpchar)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub vouchers: i64,
    #[diesel(sql_type = Numeric)]
    pub value: Decimal,
}

pub async fn open_vouchers(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<Vec<OpenVouchers>> {
    diesel::sql_query(
        "SELECT currency, count(*) AS vouchers, sum(discount) AS value FROM vouchers \
          WHERE status IN ('issued', 'reserved') AND expires_at > $1 GROUP BY 1 ORDER BY 1",
    )
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await
}
