//! Webhooks' own metric families (`monetization_webhooks_*`): labels are outcomes and states
//! only, never endpoint or event ids. Counters move as the dispatcher works; the gauges are
//! computed from the tables at `WEBHOOKS_BUSINESS_METRICS_SECS` ([`register_gauges`]).

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

/// The backlog and the endpoints' state, from the tables. Every status and state is a row even at
/// zero (the VALUES lists), so a dashboard shows 0 rather than no data.
pub fn register_gauges(ctx: &runtime::Context) {
    let every = std::time::Duration::from_secs(ctx.config.business_metrics_secs);
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        (
            "monetization_webhooks_deliveries",
            "Webhook deliveries on record by status (pending: the backlog)",
            &["status"],
        ),
        "SELECT s.status AS l1, '' AS l2, count(d.id)::float8 AS value \
         FROM (VALUES ('pending'), ('succeeded'), ('failed')) AS s(status) \
         LEFT JOIN deliveries d ON d.status = s.status GROUP BY 1",
    );
    // How late the most overdue pending delivery of an enabled endpoint is: one waiting for its
    // next retry (or leased by an attempt in flight) is not late, a disabled endpoint's waits on
    // purpose; one due minutes ago means the dispatcher is not sending.
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        (
            "monetization_webhooks_oldest_due_age_seconds",
            "Seconds since the most overdue pending webhook delivery was due (0 when none is)",
            &[],
        ),
        "SELECT '' AS l1, '' AS l2, \
         coalesce(extract(epoch FROM now() - min(d.next_attempt_at)), 0)::float8 AS value \
         FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND e.enabled AND d.next_attempt_at <= now()",
    );
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_webhooks_endpoints", "Webhook endpoints by state (enabled, disabled)", &["state"]),
        "SELECT s.state AS l1, '' AS l2, count(e.id)::float8 AS value \
         FROM (VALUES ('enabled'), ('disabled')) AS s(state) \
         LEFT JOIN endpoints e ON (CASE WHEN e.enabled THEN 'enabled' ELSE 'disabled' END) = s.state GROUP BY 1",
    );
}
