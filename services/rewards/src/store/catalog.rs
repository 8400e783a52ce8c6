//! The catalogue, redemptions and vouchers.

use super::schema::{catalog_items, redemptions, vouchers};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = catalog_items)]
pub struct Item {
    pub item: String,
    pub title: String,
    pub cost: i64,
    pub voucher_discount: Option<Decimal>,
    pub voucher_currency: Option<String>,
    pub active: bool,
}

pub async fn active_items(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Item>> {
    catalog_items::table
        .filter(catalog_items::active.eq(true))
        .order(catalog_items::cost.asc())
        .select(Item::as_select())
        .load(conn)
        .await
}

pub async fn find_active(conn: &mut AsyncPgConnection, item: &str) -> QueryResult<Option<Item>> {
    catalog_items::table
        .find(item)
        .filter(catalog_items::active.eq(true))
        .select(Item::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_redemption(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user: Uuid,
    item: &str,
    cost: i64,
    transaction_id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(redemptions::table)
        .values((
            redemptions::id.eq(id),
            redemptions::user_id.eq(user),
            redemptions::item.eq(item),
            redemptions::cost.eq(cost),
            redemptions::transaction_id.eq(transaction_id),
            redemptions::created_at.eq(at),
        ))
        .execute(conn)
        .await
}

// Serialize: the one-statement redemption (store::redeem) inserts the row from its JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = vouchers)]
pub struct Voucher {
    pub redemption_id: Uuid,
    /// HMAC-SHA256 of the code (platform::code_hash): the code itself is never kept.
    #[serde(serialize_with = "bytea_text")]
    pub code_hash: Vec<u8>,
    /// `RW-` and the code's first group, to recognise it.
    pub code_prefix: String,
    pub user_id: Uuid,
    pub discount: Decimal,
    pub currency: String,
    pub status: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
    /// The purchase holding the voucher while `reserved` or `consumed`.
    pub purchase_id: Option<Uuid>,
    pub reserved_at: Option<DateTime<Utc>>,
}

/// A BYTEA in PostgreSQL's hex text form (`\x...`): what `jsonb_populate_record` reads into a
/// BYTEA column (a JSON array of numbers, serde's default for bytes, it refuses).
fn bytea_text<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use std::fmt::Write;
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("\\x");
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    s.serialize_str(&text)
}

pub async fn insert_voucher(conn: &mut AsyncPgConnection, v: &Voucher) -> QueryResult<usize> {
    diesel::insert_into(vouchers::table).values(v).execute(conn).await
}
