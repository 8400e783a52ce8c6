//! `BILLING_*` settings of billing's own (the common ones are in `platform::config::ServiceConfig`).

use platform::config::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct BillingConfig {
    /// `https://api.stripe.com` in production; stripe-fake in dev and tests.
    #[serde(default = "default_stripe_base")]
    pub stripe_api_base: String,
    pub stripe_api_key: Secret,
    /// Webhook signing secrets, comma-separated: several during a rotation.
    pub stripe_webhook_secrets: Secret,
    #[serde(default = "default_stripe_timeout")]
    pub stripe_timeout_ms: u64,
    #[serde(default = "default_merchant_name")]
    pub merchant_name: String,
    #[serde(default = "default_merchant_address")]
    pub merchant_address: String,
    /// The seller's country (ISO 3166-1 alpha-2), printed on invoices and deciding EU reverse
    /// charge: an EU business customer in ANOTHER member state pays no VAT.
    #[serde(default = "default_seller_country")]
    pub seller_country: String,
    /// The seller's VAT id, printed on invoices when set.
    #[serde(default)]
    pub seller_vat_id: Option<String>,
    /// Days after a course payment during which its buyer may refund it themselves.
    #[serde(default = "default_refund_window")]
    pub refund_window_days: i64,
    /// How often the void worker looks for due voids when nothing woke it (a request recorded in
    /// this process wakes it at once; one recorded by another replica waits at most this long).
    #[serde(default = "default_void_poll")]
    pub void_poll_ms: u64,
    /// First delay before retrying a void after a Stripe error; doubled per attempt, at most an hour.
    #[serde(default = "default_void_retry_base")]
    pub void_retry_base_ms: u64,
    /// Age after which a payment or refund that is still not final is re-read from Stripe and
    /// settled as its lost webhook would have (and the least time between two reads of one).
    #[serde(default = "default_reconcile_after")]
    pub reconcile_after_seconds: u64,
    /// How often the reconcile job looks for such payments and refunds.
    #[serde(default = "default_reconcile_interval")]
    pub reconcile_interval_ms: u64,
    /// Hours a processed Stripe webhook event id is kept to recognise Stripe's redeliveries.
    /// Stripe retries a webhook for up to 3 days, so at least 72 (`BILLING_RETENTION_STRIPE_EVENTS_HOURS`).
    #[serde(default = "default_retention_stripe_events_hours")]
    pub retention_stripe_events_hours: u64,
}

/// Stripe retries an undelivered webhook for up to three days.
pub const STRIPE_RETRY_WINDOW: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

fn default_retention_stripe_events_hours() -> u64 {
    30 * 24
}

fn default_stripe_base() -> String {
    "https://api.stripe.com".into()
}
fn default_stripe_timeout() -> u64 {
    10_000
}
fn default_merchant_name() -> String {
    "Learning Platform Inc.".into()
}
fn default_merchant_address() -> String {
    "1 Example Street, Springfield".into()
}
fn default_seller_country() -> String {
    "IE".into()
}
fn default_refund_window() -> i64 {
    14
}
fn default_void_poll() -> u64 {
    1_000
}
fn default_void_retry_base() -> u64 {
    5_000
}
fn default_reconcile_after() -> u64 {
    600
}
fn default_reconcile_interval() -> u64 {
    60_000
}

impl BillingConfig {
    /// Every default, for a Stripe at `api_base` (stripe-fake in tests and dev): the variables
    /// name what differs from it.
    pub fn new(api_base: &str, api_key: Secret, webhook_secrets: Secret) -> Self {
        Self {
            stripe_api_base: api_base.to_string(),
            stripe_api_key: api_key,
            stripe_webhook_secrets: webhook_secrets,
            stripe_timeout_ms: default_stripe_timeout(),
            merchant_name: default_merchant_name(),
            merchant_address: default_merchant_address(),
            seller_country: default_seller_country(),
            seller_vat_id: None,
            refund_window_days: default_refund_window(),
            void_poll_ms: default_void_poll(),
            void_retry_base_ms: default_void_retry_base(),
            reconcile_after_seconds: default_reconcile_after(),
            reconcile_interval_ms: default_reconcile_interval(),
            retention_stripe_events_hours: default_retention_stripe_events_hours(),
        }
    }

    pub fn webhook_secrets(&self) -> Vec<String> {
        self.stripe_webhook_secrets
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}
