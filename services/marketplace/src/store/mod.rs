//! Marketplace's tables and queries: the only place that knows SQL.

pub mod courses;
pub mod earnings;
pub mod payouts;
pub mod purchases;
pub mod reviews;
pub mod schema;
