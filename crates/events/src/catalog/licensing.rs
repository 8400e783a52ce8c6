//! Events published by licensing.
//!
//! Subscriptions grants Enterprise (or Pro) features to `user_id` from `seat.activated` until the
//! matching `seat.released` (or the license's `suspended` / `revoked` / `expired`).
//!
//! Ordering: every license and seat event carries `license_version`, a counter on the license
//! incremented in the transaction that writes the event, so the events about one license and its
//! seats are totally ordered even when delivery reorders them.

use super::DomainEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Every event type licensing publishes.
pub const TYPES: &[&str] = &[
    LicenseCreated::TYPE,
    LicenseSuspended::TYPE,
    LicenseReinstated::TYPE,
    LicenseExtended::TYPE,
    LicenseRevoked::TYPE,
    LicenseExpired::TYPE,
    SeatActivated::TYPE,
    SeatReleased::TYPE,
    UsageThresholdReached::TYPE,
    TicketSlaBreached::TYPE,
];

/// `licensing.license.created.v1`: an organisation bought seats of a tier for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseCreated {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub organization_domain: String,
    pub tier: String,
    pub seats: u32,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for LicenseCreated {
    const TYPE: &'static str = "licensing.license.created.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// `licensing.license.suspended.v1`: the license's seats stay assigned but grant nothing until
/// `licensing.license.reinstated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseSuspended {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub tier: String,
    pub reason: Option<String>,
    pub suspended_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for LicenseSuspended {
    const TYPE: &'static str = "licensing.license.suspended.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// `licensing.license.reinstated.v1`: a suspended license is active again; its active seats grant
/// their features again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseReinstated {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub tier: String,
    pub expires_at: DateTime<Utc>,
    pub reinstated_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for LicenseReinstated {
    const TYPE: &'static str = "licensing.license.reinstated.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// `licensing.license.extended.v1`: the license (and every active seat's grant) now runs until
/// `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseExtended {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub tier: String,
    pub previous_expires_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub extended_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for LicenseExtended {
    const TYPE: &'static str = "licensing.license.extended.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// `licensing.license.revoked.v1`: final; every seat was released (each with its own
/// `licensing.seat.released.v1`, reason `license_revoked`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseRevoked {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub tier: String,
    pub reason: Option<String>,
    pub seats_released: u32,
    pub revoked_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for LicenseRevoked {
    const TYPE: &'static str = "licensing.license.revoked.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// `licensing.license.expired.v1`: `expires_at` passed; every seat was released (reason
/// `license_expired`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseExpired {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub tier: String,
    pub seats_released: u32,
    pub expires_at: DateTime<Utc>,
    pub expired_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for LicenseExpired {
    const TYPE: &'static str = "licensing.license.expired.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// `licensing.seat.activated.v1`: `user_id` holds a seat: grant `tier`'s features until
/// `expires_at` or the seat's release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatActivated {
    pub seat_id: Uuid,
    pub user_id: Uuid,
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub tier: String,
    pub seat_number: u32,
    pub expires_at: DateTime<Utc>,
    pub activated_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for SeatActivated {
    const TYPE: &'static str = "licensing.seat.activated.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.seat_id.to_string()
    }
}

/// Why a seat was given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatReleaseReason {
    ReleasedByUser,
    ReleasedByOrgAdmin,
    ReleasedByAdmin,
    LicenseExpired,
    LicenseRevoked,
    /// The member's personal data was erased (`events::erasure`): the seat goes back to the pool.
    UserErased,
}

impl SeatReleaseReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ReleasedByUser => "released_by_user",
            Self::ReleasedByOrgAdmin => "released_by_org_admin",
            Self::ReleasedByAdmin => "released_by_admin",
            Self::LicenseExpired => "license_expired",
            Self::LicenseRevoked => "license_revoked",
            Self::UserErased => "user_erased",
        }
    }
}

/// `licensing.seat.released.v1`: `user_id` no longer holds the seat: withdraw what it granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatReleased {
    pub seat_id: Uuid,
    pub user_id: Uuid,
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub reason: SeatReleaseReason,
    pub released_at: DateTime<Utc>,
    /// The license's version after this change: every `licensing.license.*` and `licensing.seat.*`
    /// event about one license carries a strictly greater version than the one before it, so a
    /// consumer applies them last-writer-by-version in any delivery order. Events published before
    /// the field existed read as 0.
    #[serde(default)]
    pub license_version: i64,
}

impl DomainEvent for SeatReleased {
    const TYPE: &'static str = "licensing.seat.released.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.seat_id.to_string()
    }
}

/// `licensing.usage.threshold_reached.v1`: seats in use reached 75% or 100% of the seats bought.
/// Emitted once per upward crossing; falling below and rising again emits again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageThresholdReached {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    /// 75 or 100.
    pub threshold_percent: u8,
    pub seats: u32,
    pub seats_used: u32,
    pub reached_at: DateTime<Utc>,
}

impl DomainEvent for UsageThresholdReached {
    const TYPE: &'static str = "licensing.usage.threshold_reached.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.license_id.to_string()
    }
}

/// Which SLA target a ticket missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

/// `licensing.ticket.sla_breached.v1`: a support ticket missed a target; once per ticket and target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSlaBreached {
    pub ticket_id: Uuid,
    pub organization_id: Uuid,
    pub license_id: Uuid,
    pub tier: String,
    /// `P1` .. `P4`.
    pub priority: String,
    pub target: SlaTarget,
    pub due_at: DateTime<Utc>,
    pub breached_at: DateTime<Utc>,
}

impl DomainEvent for TicketSlaBreached {
    const TYPE: &'static str = "licensing.ticket.sla_breached.v1";
    const SOURCE: &'static str = "licensing";
    fn subject(&self) -> String {
        self.ticket_id.to_string()
    }
}
