//! Diesel queries: the only place with SQL.

pub mod deliveries;
pub mod endpoints;
pub mod erasure;
pub mod schema;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Keyset cursor of the lists (newest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}
