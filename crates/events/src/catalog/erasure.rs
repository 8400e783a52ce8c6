//! The erasure protocol's events (issue 18, point 3): rewards, which owns erasure requests,
//! publishes `rewards.erasure.requested.v1`; every service erases the user in its own schema and
//! confirms with `<service>.user.erased.v1` (one type per service, the same payload), which
//! rewards counts until every service has confirmed. The mechanism is `events::erasure`.

use super::DomainEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TYPES: &[&str] = &[
    ErasureRequested::TYPE,
    BillingUserErased::TYPE,
    SubscriptionsUserErased::TYPE,
    MarketplaceUserErased::TYPE,
    RewardsUserErased::TYPE,
    LicensingUserErased::TYPE,
    WebhooksUserErased::TYPE,
];

/// The services that hold data about a user, each of which must confirm an erasure.
/// Webhooks holds the events it delivers (their payloads name users) and the answers to them.
pub const SERVICES: &[&str] = &["billing", "licensing", "marketplace", "rewards", "subscriptions", "webhooks"];

/// Who asked for an erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureOrigin {
    /// An admin's `POST /api/admin/users/{user_id}/erasure`.
    Admin,
    /// The identity provider's `identity.user.erased.v1`.
    Identity,
}

impl ErasureOrigin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Identity => "identity",
        }
    }
}

/// `rewards.erasure.requested.v1`: erase this user everywhere, then confirm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequested {
    pub erasure_id: Uuid,
    pub user_id: Uuid,
    pub origin: ErasureOrigin,
    pub requested_at: DateTime<Utc>,
}

impl DomainEvent for ErasureRequested {
    const TYPE: &'static str = "rewards.erasure.requested.v1";
    const SOURCE: &'static str = "rewards";
    fn subject(&self) -> String {
        self.erasure_id.to_string()
    }
}

/// What every `<service>.user.erased.v1` carries: this service has erased the user (personal data
/// deleted or pseudonymised, financial records kept and detached) in the transaction that wrote
/// this event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureConfirmation {
    pub erasure_id: Uuid,
    pub user_id: Uuid,
    /// The confirming service (also the event type's prefix).
    pub service: String,
    pub erased_at: DateTime<Utc>,
}

macro_rules! confirmation {
    ($name:ident, $service:literal) => {
        #[doc = concat!("`", $service, ".user.erased.v1`: ", $service, " has erased the user.")]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ErasureConfirmation);

        impl DomainEvent for $name {
            const TYPE: &'static str = concat!($service, ".user.erased.v1");
            const SOURCE: &'static str = $service;
            fn subject(&self) -> String {
                self.0.erasure_id.to_string()
            }
        }
    };
}

confirmation!(BillingUserErased, "billing");
confirmation!(SubscriptionsUserErased, "subscriptions");
confirmation!(MarketplaceUserErased, "marketplace");
confirmation!(RewardsUserErased, "rewards");
confirmation!(LicensingUserErased, "licensing");
confirmation!(WebhooksUserErased, "webhooks");

/// The confirmation event types, one per service in [`SERVICES`].
pub const CONFIRMATIONS: &[&str] = &[
    BillingUserErased::TYPE,
    SubscriptionsUserErased::TYPE,
    MarketplaceUserErased::TYPE,
    RewardsUserErased::TYPE,
    LicensingUserErased::TYPE,
    WebhooksUserErased::TYPE,
];
