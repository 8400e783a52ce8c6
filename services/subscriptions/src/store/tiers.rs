use super::schema::{tier_features, tier_prices, tiers};
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
    /// Days of free trial a first subscription to this tier gets (0: none).
    pub trial_days: i32,
    /// `card_required` (a saved default card at billing to start the trial) or `no_card`.
    pub trial_mode: String,
}

/// `tiers.trial_mode` that needs a saved default card to start a trial.
pub const CARD_REQUIRED: &str = "card_required";

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

/// The tier's price in `currency`, if it is sold in it.
pub async fn price_in(conn: &mut AsyncPgConnection, code: &str, currency: &str) -> QueryResult<Option<Decimal>> {
    tier_prices::table.find((code, currency)).select(tier_prices::price).first(conn).await.optional()
}

/// Every (tier, currency, price), by tier then currency.
pub async fn prices(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, String, Decimal)>> {
    tier_prices::table
        .order((tier_prices::tier, tier_prices::currency))
        .select((tier_prices::tier, tier_prices::currency, tier_prices::price))
        .load(conn)
        .await
}
