//! Subscriptions' business gauges, computed from its tables at `SUBSCRIPTIONS_BUSINESS_METRICS_SECS`.

use runtime::Context;
use std::time::Duration;

pub fn register(ctx: &Context) {
    let every = Duration::from_secs(ctx.config.business_metrics_secs);
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_subscriptions_subscriptions", "Subscriptions by tier and status", &["tier", "status"]),
        "SELECT tier AS l1, status AS l2, count(*)::float8 AS value FROM subscriptions GROUP BY 1, 2",
    );
    // Monthly recurring revenue, read from the MRR history the subscriptions report reads (the
    // sum of every movement), so the dashboard and `GET /api/admin/reports/subscriptions` never
    // disagree: active and past_due subscriptions at their tier's monthly price when they last
    // moved. Summed exactly as NUMERIC, cast to a float only for the exposition.
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_subscriptions_mrr", "Monthly recurring revenue by currency (major units)", &["currency"]),
        "SELECT trim(currency) AS l1, '' AS l2, sum(mrr_after - mrr_before)::float8 AS value \
         FROM mrr_movements GROUP BY 1",
    );
}
