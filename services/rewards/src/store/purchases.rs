//! What each course purchase earned, for clawbacks on refund.

use super::schema::purchase_rewards;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = purchase_rewards)]
pub struct PurchaseReward {
    pub purchase_id: Uuid,
    pub user_id: Uuid,
    pub tokens: i64,
    pub gross: Option<Decimal>,
    pub currency: Option<String>,
    pub refunded: Decimal,
    pub fully_refunded: bool,
    pub tokens_clawed: i64,
    pub earned_at: DateTime<Utc>,
}

pub async fn lock(mut conn: &AsyncPgConnection, purchase: Uuid) -> QueryResult<Option<PurchaseReward>> {
    purchase_rewards::table
        .find(purchase)
        .for_update()
        .select(PurchaseReward::as_select())
        .first(&mut conn)
        .await
        .optional()
}

/// Record a purchase's reward; false when one is recorded already (e.g. its refund came first).
pub async fn insert(conn: &mut AsyncPgConnection, row: &PurchaseReward) -> QueryResult<bool> {
    let n = diesel::insert_into(purchase_rewards::table)
        .values(row)
        .on_conflict_do_nothing()
        .prepared()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn record_refund(
    conn: &mut AsyncPgConnection,
    purchase: Uuid,
    refunded: Decimal,
    fully_refunded: bool,
    tokens_clawed: i64,
) -> QueryResult<usize> {
    use purchase_rewards as p;
    diesel::update(p::table.find(purchase))
        .set((p::refunded.eq(refunded), p::fully_refunded.eq(fully_refunded), p::tokens_clawed.eq(tokens_clawed)))
        .execute(conn)
        .await
}
