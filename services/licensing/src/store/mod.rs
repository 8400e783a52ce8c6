//! Licensing's tables and queries: the only place that knows SQL.

pub mod activation;
pub mod licenses;
pub mod organizations;
pub mod reports;
pub mod schema;
pub mod seats;
pub mod tickets;
pub mod usage;
