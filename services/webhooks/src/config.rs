//! `WEBHOOKS_*` settings of the service's own (the common ones are in
//! `platform::config::ServiceConfig`).

use platform::config::Secret;
use serde::Deserialize;

/// DEV ONLY key for the signing secrets at rest (scripts/dev.env, tests); production sets its own.
pub const DEV_SECRET_KEY: &str = "dev-only-webhook-secret-key-do-not-use-in-production";

#[derive(Debug, Clone, Deserialize)]
pub struct WebhooksConfig {
    /// Key sealing the endpoints' signing secrets at rest (AES-256-GCM, `crate::sealing`): 16+
    /// characters, the same on every replica, and kept (a secret sealed under it opens under no
    /// other). Required.
    pub secret_key: Secret,
    /// Host names, addresses and CIDRs webhooks may reach although they are private, loopback or
    /// link-local (comma-separated). Empty in production; development and tests: `127.0.0.1`.
    #[serde(default)]
    pub allowed_hosts: String,
    /// Delay before each attempt (`domain::schedule`), e.g. `0s,5s,5m,30m,2h,5h,10h,10h`.
    #[serde(default = "default_schedule")]
    pub retry_schedule: String,
    /// Deadline of one attempt (connect to last byte).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// An endpoint whose deliveries have failed, without one success, for this long is disabled.
    #[serde(default = "default_disable_after_secs")]
    pub disable_after_secs: u64,
    /// How long the previous secret keeps signing after a rotation.
    #[serde(default = "default_rotation_grace_secs")]
    pub rotation_grace_secs: u64,
    /// Pause of the dispatcher when nothing was due.
    #[serde(default = "default_dispatch_interval_ms")]
    pub dispatch_interval_ms: u64,
    /// Deliveries taken (and sent concurrently) per dispatcher round.
    #[serde(default = "default_dispatch_batch")]
    pub dispatch_batch: i64,
    /// Days an event, its deliveries and their log are kept (none still pending is deleted);
    /// older events can no longer be replayed.
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
}

fn default_schedule() -> String {
    crate::domain::schedule::DEFAULT.into()
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_disable_after_secs() -> u64 {
    5 * 24 * 3600
}
fn default_rotation_grace_secs() -> u64 {
    24 * 3600
}
fn default_dispatch_interval_ms() -> u64 {
    500
}
fn default_dispatch_batch() -> i64 {
    16
}
fn default_retention_days() -> u64 {
    30
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            secret_key: Secret::new(DEV_SECRET_KEY),
            allowed_hosts: "127.0.0.1".into(),
            retry_schedule: default_schedule(),
            timeout_ms: default_timeout_ms(),
            disable_after_secs: default_disable_after_secs(),
            rotation_grace_secs: default_rotation_grace_secs(),
            dispatch_interval_ms: default_dispatch_interval_ms(),
            dispatch_batch: default_dispatch_batch(),
            retention_days: default_retention_days(),
        }
    }
}
