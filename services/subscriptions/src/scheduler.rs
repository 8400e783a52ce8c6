//! Renewals, dunning retries and first-payment expiry. Each tick locks due subscriptions with
//! `FOR UPDATE SKIP LOCKED`, so several replicas share the work without doing any twice.

use crate::operations;
use crate::store::subscriptions;
use crate::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Process everything due now; returns how many subscriptions were handled.
pub async fn tick(state: &Arc<State>) -> Result<usize, crate::error::SubscriptionError> {
    let mut handled = 0;
    loop {
        let st = state.clone();
        let batch = platform::db::transaction(&state.pool, move |conn| {
            Box::pin(async move {
                let due = subscriptions::lock_due(conn, st.clock.now(), 1).await?;
                let users: Vec<_> = due.iter().map(|s| s.user_id).collect();
                for sub in due {
                    operations::process_due(conn, &st, sub).await?;
                }
                Ok::<_, crate::error::SubscriptionError>(users)
            })
        })
        .await?;
        if batch.is_empty() {
            return Ok(handled);
        }
        // After the commit, so no reader caches the state from before it.
        for user in &batch {
            state.cache.invalidate(*user);
        }
        handled += batch.len();
    }
}

pub fn spawn(
    state: Arc<State>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = tick(&state).await {
                tracing::warn!(error = %e, "subscription scheduler tick failed");
            }
        }
    })
}
