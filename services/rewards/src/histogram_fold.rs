//! The leaderboard histogram's fold: every `REWARDS_HISTOGRAM_FOLD_MS` (1 s), the score moves the
//! ledger recorded as deltas are added into `score_histogram` (`store::leaderboard`). Every
//! replica runs it; one folds at a time. Readers add what is pending, so the interval bounds the
//! deltas table's size, not the ranks' accuracy.

use platform::db::Pool;
use platform::metrics::SchedulerMetrics;
use std::time::Duration;
use tokio::sync::watch;

pub const JOB: &str = "score_histogram_fold";

/// Fold once; the deltas folded.
pub async fn run(pool: &Pool) -> Result<usize, platform::Problem> {
    let mut conn = pool.get().await?;
    Ok(crate::store::leaderboard::fold_histogram(&mut conn).await?)
}

pub fn spawn(
    pool: Pool,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
    metrics: SchedulerMetrics,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {
                    // What this replica's requests recorded is folded before it goes.
                    let _ = run(&pool).await;
                    return;
                }
            }
            let folded = run(&pool).await;
            metrics.record(JOB, folded.as_ref().ok().copied());
            if let Err(e) = folded {
                tracing::warn!(error = %e, "score histogram fold failed; its deltas stay for the next one");
            }
        }
    })
}
