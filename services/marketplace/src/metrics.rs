//! Marketplace's business gauges, computed from its tables at `MARKETPLACE_BUSINESS_METRICS_SECS`.

use runtime::Context;
use std::time::Duration;

pub fn register(ctx: &Context) {
    let every = Duration::from_secs(ctx.config.business_metrics_secs);
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_marketplace_purchases", "Course purchases by status", &["status"]),
        "SELECT status AS l1, '' AS l2, count(*)::float8 AS value FROM purchases GROUP BY 1",
    );
    // Gross merchandise value: what buyers paid for completed sales, net of refunds (NUMERIC sum,
    // float only at the edge).
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_marketplace_gmv", "Course sales net of refunds, by currency (major units)", &["currency"]),
        "SELECT currency AS l1, '' AS l2, sum(price - refunded_amount)::float8 AS value FROM purchases \
         WHERE status IN ('completed', 'refunded') GROUP BY 1",
    );
}
