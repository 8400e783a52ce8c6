//! `SUBSCRIPTIONS_*` settings of the service's own.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionsConfig {
    /// Where billing answers internal calls.
    pub billing_url: String,
    /// Days after a failed renewal at which it is retried, comma-separated; then the subscription is canceled.
    #[serde(default = "default_retry_days")]
    pub dunning_retry_days: String,
    /// A first payment not confirmed within this many hours ends `incomplete_expired` (Stripe: 23 h).
    #[serde(default = "default_first_payment_hours")]
    pub first_payment_timeout_hours: i64,
    #[serde(default = "default_scheduler_ms")]
    pub scheduler_interval_ms: u64,
    /// How long feature answers are cached (changes made by this service invalidate at once).
    #[serde(default = "default_cache_secs")]
    pub feature_cache_ttl_secs: u64,
    /// Sandbox only (issue 23, point 5): the test-clock API and `test_clock` on subscribe. Never
    /// set in the prod overlay (scripts/k8s-check.sh refuses it there).
    #[serde(default)]
    pub test_clocks: bool,
}

fn default_retry_days() -> String {
    "1,3,5".into()
}
fn default_first_payment_hours() -> i64 {
    23
}
fn default_scheduler_ms() -> u64 {
    1_000
}
fn default_cache_secs() -> u64 {
    300
}

impl SubscriptionsConfig {
    pub fn retry_schedule(&self) -> Result<Vec<i64>, String> {
        self.dunning_retry_days
            .split(',')
            .map(|d| {
                d.trim().parse::<i64>().map_err(|_| format!("SUBSCRIPTIONS_DUNNING_RETRY_DAYS: {d:?} is not a number"))
            })
            .collect()
    }
}
