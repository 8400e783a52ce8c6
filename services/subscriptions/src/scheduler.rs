//! Renewals, dunning retries and first-payment expiry. Each tick locks due subscriptions with
//! `FOR UPDATE SKIP LOCKED`, so several replicas share the work without doing any twice.

use crate::error::SubscriptionError;
use crate::operations;
use crate::store::subscriptions;
use crate::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Why one scheduler transaction failed: the subscription it was working on, or the tick itself.
enum TickError {
    Item(Uuid, SubscriptionError),
    Tick(SubscriptionError),
}

impl From<diesel::result::Error> for TickError {
    fn from(e: diesel::result::Error) -> Self {
        TickError::Tick(e.into())
    }
}

impl From<platform::db::PoolError> for TickError {
    fn from(e: platform::db::PoolError) -> Self {
        TickError::Tick(e.into())
    }
}

/// Process everything due now; returns how many subscriptions were handled. A subscription that
/// fails (billing down, say) is skipped for the rest of the tick and retried on the next one, so
/// one bad row never holds up everyone else's renewal.
pub async fn tick(state: &Arc<State>) -> Result<usize, SubscriptionError> {
    let mut handled = 0;
    let mut failed: Vec<Uuid> = Vec::new();
    loop {
        let st = state.clone();
        let skip = failed.clone();
        let batch = platform::db::transaction(&state.pool, move |conn| {
            Box::pin(async move {
                let due = subscriptions::lock_due(conn, st.clock.now(), &skip, 1).await?;
                let Some(sub) = due.into_iter().next() else {
                    return Ok::<_, TickError>(None);
                };
                let (id, user) = (sub.id, sub.user_id);
                operations::process_due(conn, &st, sub).await.map_err(|e| TickError::Item(id, e))?;
                Ok(Some(user))
            })
        })
        .await;
        match batch {
            Ok(None) => break,
            Ok(Some(user)) => {
                // After the commit, so no reader caches the state from before it.
                state.cache.invalidate(user);
                handled += 1;
            }
            Err(TickError::Item(id, e)) => {
                tracing::warn!(subscription = %id, error = %e, "subscription scheduler: retrying next tick");
                failed.push(id);
            }
            Err(TickError::Tick(e)) => return Err(e),
        }
    }
    Ok(handled)
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
