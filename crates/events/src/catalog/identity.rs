//! Events the identity provider publishes and the platform consumes (it emits none of these).

use super::DomainEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TYPES: &[&str] = &[UserErased::TYPE];

/// `identity.user.erased.v1`: the identity provider deleted an account and asks every system
/// holding the person's data to erase it. Rewards (which owns erasure requests) turns it into a
/// request, exactly like an admin's `POST /api/admin/users/{user_id}/erasure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserErased {
    /// The JWT `sub` the account had.
    pub user_id: Uuid,
    pub erased_at: DateTime<Utc>,
}

impl DomainEvent for UserErased {
    const TYPE: &'static str = "identity.user.erased.v1";
    const SOURCE: &'static str = "identity";
    fn subject(&self) -> String {
        self.user_id.to_string()
    }
}
