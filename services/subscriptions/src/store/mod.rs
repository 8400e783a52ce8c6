//! Subscriptions' tables and queries: the only place that knows SQL.

pub mod charges;
pub mod coupons;
pub mod grants;
pub mod licenses;
pub mod mrr;
pub mod schema;
pub mod subscriptions;
pub mod test_clocks;
pub mod tiers;
pub mod trials;
