use super::schema::{tier_features, tiers};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tiers)]
pub struct Tier {
    pub code: String,
    pub name: String,
    pub price: Decimal,
    pub currency: String,
    pub rank: i32,
}

pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Tier>> {
    tiers::table.order(tiers::rank.asc()).select(Tier::as_select()).load(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<Tier>> {
    tiers::table.find(code).select(Tier::as_select()).first(conn).await.optional()
}

/// (tier, feature) pairs.
pub async fn features(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, String)>> {
    tier_features::table
        .order((tier_features::tier, tier_features::feature))
        .select((tier_features::tier, tier_features::feature))
        .load(conn)
        .await
}
