//! Rewards' tables and queries: the only place that knows SQL.

pub mod accounts;
pub mod catalog;
pub mod credit;
pub mod erasures;
pub mod friends;
pub mod leaderboard;
pub mod profiles;
pub mod purchases;
pub mod redeem;
pub mod reports;
pub mod rules;
pub mod schema;
pub mod vouchers;
