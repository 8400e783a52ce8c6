//! Events published by webhooks (outgoing HTTP webhooks to API clients).

use super::DomainEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Every event type webhooks publishes.
pub const TYPES: &[&str] = &[EndpointDisabled::TYPE];

/// `webhooks.endpoint.disabled.v1`: an endpoint kept failing for longer than the configured
/// period (`WEBHOOKS_DISABLE_AFTER_SECS`) and was disabled; no further deliveries are attempted
/// until an admin enables it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDisabled {
    pub endpoint_id: Uuid,
    /// When its deliveries started failing without a success since.
    pub failing_since: DateTime<Utc>,
    pub disabled_at: DateTime<Utc>,
    /// Why, in words (the last error).
    pub reason: String,
}

impl DomainEvent for EndpointDisabled {
    const TYPE: &'static str = "webhooks.endpoint.disabled.v1";
    const SOURCE: &'static str = "webhooks";
    fn subject(&self) -> String {
        self.endpoint_id.to_string()
    }
}
