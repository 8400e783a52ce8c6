//! Rewards' business gauges, computed from its tables at `REWARDS_BUSINESS_METRICS_SECS`.

use runtime::Context;
use std::time::Duration;

pub fn register(ctx: &Context) {
    let every = Duration::from_secs(ctx.config.business_metrics_secs);
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        (
            "monetization_rewards_tokens_moved",
            "Tokens moved since the start, by ledger kind (earn, award: issued; redeem, clawback, expire: taken)",
            &["kind"],
        ),
        "SELECT kind AS l1, '' AS l2, sum(abs(amount))::float8 AS value FROM token_transactions GROUP BY 1",
    );
    ctx.metrics.gauge_from_query(
        &ctx.pool,
        every,
        ("monetization_rewards_tokens_outstanding", "Spendable tokens held by all users (the liability)", &[]),
        "SELECT '' AS l1, '' AS l2, coalesce(sum(spendable), 0)::float8 AS value FROM token_balances",
    );
}
