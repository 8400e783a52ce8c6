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
    // Gross merchandise value: what buyers paid (list price less vouchers) for completed sales, net
    // of refunds, as the marketplace report defines it (NUMERIC sum, float only at the edge).
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_marketplace_gmv", "Course sales net of refunds, by currency (major units)", &["currency"]),
        "SELECT currency AS l1, '' AS l2, sum(amount_paid - refunded_amount)::float8 AS value FROM purchases \
         WHERE status IN ('completed', 'refunded') GROUP BY 1",
    );
    // What the platform owes instructors, by state: `available` is the payouts owed (past the
    // refund window, not yet requested); `pending` still inside it; `in_payout` requested, unpaid.
    // The same numbers as `GET /api/admin/reports/marketplace/payouts`, from the same query's
    // sources (paid payouts are a counter-like total, left to the report).
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        (
            "monetization_marketplace_payouts_owed",
            "Instructor earnings owed, by state (pending, available, in_payout) and currency (major units)",
            &["state", "currency"],
        ),
        "SELECT status AS l1, currency AS l2, sum(amount)::float8 AS value FROM earnings \
         WHERE status IN ('pending', 'available') GROUP BY 1, 2 \
         UNION ALL SELECT 'in_payout', currency, sum(amount)::float8 FROM payouts WHERE status = 'requested' GROUP BY 2",
    );
}
