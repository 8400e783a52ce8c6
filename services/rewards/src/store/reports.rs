//! The rewards report's queries: token flows and vouchers per interval (buckets of
//! `platform::reports::Series`, numbered by `width_bucket`), outstanding tokens and what the catalogue says they are worth.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bpchar, Integer, Numeric, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
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

pub async fn flows(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Flow>> {
    diesel::sql_query(
        "SELECT width_bucket(created_at, $1) AS bucket, kind, abs(sum(amount))::bigint AS tokens, \
                count(*) AS entries \
           FROM token_transactions WHERE created_at >= $2 AND created_at < $3 GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
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

pub async fn voucher_flows(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<VoucherFlow>> {
    // A voucher expires by time: its status flips to `expired` only when something touches it, so
    // an unused (issued) voucher past `expires_at` counts as expired at `expires_at`.
    diesel::sql_query(
        "SELECT width_bucket(at, $1) AS bucket, event, currency, count(*) AS vouchers, sum(discount) AS value \
           FROM ( \
             SELECT issued_at AS at, 'issued' AS event, currency, discount FROM vouchers \
              WHERE issued_at >= $2 AND issued_at < $3 \
             UNION ALL \
             SELECT consumed_at, 'used', currency, discount FROM vouchers \
              WHERE consumed_at >= $2 AND consumed_at < $3 \
             UNION ALL \
             SELECT expires_at, 'expired', currency, discount FROM vouchers \
              WHERE expires_at >= $2 AND expires_at < LEAST($3, $4) AND status IN ('issued', 'expired') \
           ) AS v GROUP BY 1, 2, 3 ORDER BY 1, 3, 2",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<Timestamptz, _>(now)
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
