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
    // Monthly recurring revenue: each paying subscription at its tier's monthly price, summed
    // exactly as NUMERIC and cast to a float only for the exposition. past_due still counts (it
    // is being collected); incomplete has never paid.
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_subscriptions_mrr", "Monthly recurring revenue by currency (major units)", &["currency"]),
        "SELECT t.currency AS l1, '' AS l2, sum(t.price)::float8 AS value FROM subscriptions s \
         JOIN tiers t ON t.code = s.tier WHERE s.status IN ('active', 'past_due') AND t.price > 0 GROUP BY 1",
    );
}
