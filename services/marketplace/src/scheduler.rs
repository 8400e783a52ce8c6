//! Earnings maturity: pending lines whose refund window has passed become available. Each batch
//! takes its rows with `FOR UPDATE SKIP LOCKED`, so several replicas share the work.

use crate::clock::SharedClock;
use platform::db::Pool;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 500;

/// Mature everything due at the clock's now; returns the number of lines made available.
pub async fn tick(pool: &Pool, clock: &SharedClock) -> Result<usize, platform::Problem> {
    let mut total = 0;
    loop {
        let mut conn = pool.get().await?;
        let n = crate::store::earnings::mature(&mut conn, clock.now(), BATCH).await?;
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

pub fn spawn(
    pool: Pool,
    clock: SharedClock,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            match tick(&pool, &clock).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(lines = n, "earnings became available"),
                Err(e) => tracing::warn!(error = %e, "earnings maturity tick failed"),
            }
        }
    })
}
