//! Background work on marketplace's clock: earnings maturity (pending lines whose refund window has
//! passed become available) and purchase expiry (`expiry`: a purchase never paid within
//! `MARKETPLACE_PURCHASE_EXPIRY_MINUTES` has its PaymentIntent canceled through billing and is
//! closed, or completes if it was paid after all). Each batch takes its rows with `FOR UPDATE SKIP
//! LOCKED`, so several replicas share the work.

use crate::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 500;

/// Mature everything due at the clock's now (and, sandbox only, at each test clock's now for the
/// purchases on it: `events::test_clocks`); returns the number of lines made available.
pub async fn tick(state: &State) -> Result<usize, platform::Problem> {
    let mut total = 0;
    let passes = {
        let mut conn = state.pool.get().await?;
        events::test_clocks::passes(&mut conn, state.config.test_clocks, state.clock.now()).await?
    };
    for pass in passes {
        loop {
            let mut conn = state.pool.get().await?;
            let n = crate::store::earnings::mature(&mut conn, pass, BATCH).await?;
            total += n;
            if n < BATCH as usize {
                break;
            }
        }
    }
    Ok(total)
}

pub fn spawn(
    state: Arc<State>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    metrics: platform::metrics::SchedulerMetrics,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            let matured = tick(&state).await;
            metrics.record("earnings_maturity", matured.as_ref().ok().copied());
            match matured {
                Ok(0) => {}
                Ok(n) => tracing::info!(lines = n, "earnings became available"),
                Err(e) => tracing::warn!(error = %e, "earnings maturity tick failed"),
            }
            let expired = crate::expiry::run(&state).await;
            metrics.record("purchase_expiry", expired.as_ref().ok().copied());
            match expired {
                Ok(0) => {}
                Ok(n) => tracing::info!(purchases = n, "unpaid purchases expired (closed, or completed if paid)"),
                Err(e) => tracing::warn!(error = %e, "purchase expiry tick failed"),
            }
        }
    })
}
