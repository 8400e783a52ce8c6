//! Licensing's business gauges, computed from its tables at `LICENSING_BUSINESS_METRICS_SECS`.
//! Seats are aggregated by tier, never labelled by license id (unbounded series).

use runtime::Context;
use std::time::Duration;

pub fn register(ctx: &Context) {
    let every = Duration::from_secs(ctx.config.business_metrics_secs);
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_licensing_seats", "Seats of active licenses, purchased and used, by tier", &["tier", "state"]),
        "SELECT tier AS l1, 'purchased' AS l2, coalesce(sum(seats), 0)::float8 AS value FROM licenses \
         WHERE status = 'active' GROUP BY 1 \
         UNION ALL SELECT tier, 'used', coalesce(sum(seats_used), 0)::float8 FROM licenses \
         WHERE status = 'active' GROUP BY 1",
    );
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        (
            "monetization_licensing_licenses",
            "Licenses by status, and active ones with every seat taken (full)",
            &["status"],
        ),
        "SELECT status AS l1, '' AS l2, count(*)::float8 AS value FROM licenses GROUP BY 1 \
         UNION ALL SELECT 'full', '', count(*)::float8 FROM licenses WHERE status = 'active' AND seats_used >= seats",
    );
}
