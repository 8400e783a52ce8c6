//! Webhooks' own metric families (`monetization_webhooks_*`): labels are outcomes only, never
//! endpoint or event ids.

use platform::metrics::{CounterVec, HistogramVec};

#[derive(Clone)]
pub struct Metrics {
    /// Attempts by outcome (`succeeded`, `failed`).
    pub attempts: CounterVec,
    /// Deliveries that used up the retry schedule.
    pub exhausted: CounterVec,
    /// Endpoints disabled for failing too long.
    pub disabled: CounterVec,
    /// Deliveries created from events.
    pub created: CounterVec,
    /// Seconds of each attempt.
    pub latency: HistogramVec,
}

impl Metrics {
    pub fn register(m: &platform::metrics::Metrics) -> Self {
        Self {
            attempts: m.counter(
                "monetization_webhooks_delivery_attempts",
                "Webhook delivery attempts by outcome",
                &["outcome"],
            ),
            exhausted: m.counter(
                "monetization_webhooks_deliveries_failed",
                "Webhook deliveries that failed every attempt of the retry schedule",
                &[],
            ),
            disabled: m.counter(
                "monetization_webhooks_endpoints_disabled",
                "Webhook endpoints disabled after failing for too long",
                &[],
            ),
            created: m.counter(
                "monetization_webhooks_deliveries_created",
                "Webhook deliveries created from events",
                &[],
            ),
            latency: m.histogram(
                "monetization_webhooks_attempt_duration_seconds",
                "Duration of webhook delivery attempts",
                &[],
            ),
        }
    }
}
