//! Marketplace's tables and queries: the only place that knows SQL.

pub mod courses;
pub mod earnings;
pub mod payouts;
pub mod promotions;
pub mod purchase_once;
pub mod purchases;
pub mod reviews;
pub mod sales;
pub mod schema;

/// Keyset position in a list ordered newest first: the last row's time and id (the tie-break).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Keyset {
    pub at: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}
