//! Background work on marketplace's clock: earnings maturity (pending lines whose refund window has
//! passed become available) and purchase expiry (a purchase never paid within
//! `MARKETPLACE_PURCHASE_EXPIRY_MINUTES` is closed and its PaymentIntent voided, so an abandoned
//! checkout cannot charge the buyer later). Each batch takes its rows with `FOR UPDATE SKIP
//! LOCKED`, so several replicas share the work.

use crate::error::MarketError;
use crate::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 500;

/// Mature everything due at the clock's now; returns the number of lines made available.
pub async fn tick(state: &State) -> Result<usize, platform::Problem> {
    let mut total = 0;
    loop {
        let mut conn = state.pool.get().await?;
        let n = crate::store::earnings::mature(&mut conn, state.clock.now(), BATCH).await?;
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

/// Close every purchase older than the expiry that was never paid (pending, or declined and not
/// retried); returns how many were closed.
pub async fn expire(state: &Arc<State>) -> Result<usize, MarketError> {
    let cutoff = state.clock.now() - chrono::Duration::minutes(state.config.purchase_expiry_minutes);
    let mut total = 0;
    loop {
        let st = state.clone();
        let n = platform::db::transaction(&state.pool, move |conn| {
            Box::pin(async move {
                let state = &st;
                let stale = crate::store::purchases::lock_stale(conn, cutoff, BATCH).await?;
                for purchase in &stale {
                    crate::purchasing::close(conn, state, purchase, crate::domain::purchase::PURCHASE_EXPIRED).await?;
                }
                Ok::<_, MarketError>(stale.len())
            })
        })
        .await?;
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
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
            let expired = expire(&state).await;
            metrics.record("purchase_expiry", expired.as_ref().ok().copied());
            match expired {
                Ok(0) => {}
                Ok(n) => tracing::info!(purchases = n, "unpaid purchases expired"),
                Err(e) => tracing::warn!(error = %e, "purchase expiry tick failed"),
            }
        }
    })
}
