//! Renewals, dunning retries and first-payment expiry. Each tick locks due subscriptions with
//! `FOR UPDATE SKIP LOCKED`, so several replicas share the work without doing any twice.

use crate::operations;
use crate::store::subscriptions;
use crate::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Process everything due now; returns how many subscriptions were handled. A subscription that
/// fails (billing down, say) is skipped for the rest of the tick and retried on the next one, so
/// one bad row never holds up everyone else's renewal.
pub async fn tick(state: &Arc<State>) -> Result<usize, crate::error::SubscriptionError> {
    let mut handled = 0;
    let mut failed: Vec<uuid::Uuid> = Vec::new();
    loop {
        let st = state.clone();
        let skip = failed.clone();
        let batch = platform::db::transaction(&state.pool, move |conn| {
            Box::pin(async move {
                let due = subscriptions::lock_due(conn, st.clock.now(), &skip, 1).await?;
                let Some(sub) = due.into_iter().next() else {
                    return Ok::<_, crate::error::SubscriptionError>(None);
                };
                let (id, user) = (sub.id, sub.user_id);
                operations::process_due(conn, &st, sub).await.map_err(|e| item_failed(id, e.to_string()))?;
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
            Err(crate::error::SubscriptionError::Problem(p)) if p.code == FAILED_CODE => {
                let id =
                    p.detail.as_deref().and_then(|d| d.split(' ').next()).and_then(|i| uuid::Uuid::parse_str(i).ok());
                tracing::warn!(detail = ?p.detail, "subscription scheduler: one subscription failed; retrying next tick");
                match id {
                    Some(id) => failed.push(id),
                    None => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(handled)
}

const FAILED_CODE: &str = "scheduler_item_failed";

/// Carries which subscription failed out of the transaction (which rolls back its changes).
fn item_failed(id: uuid::Uuid, cause: String) -> crate::error::SubscriptionError {
    crate::error::SubscriptionError::Problem(
        platform::Problem::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            FAILED_CODE,
            "scheduler item failed",
        )
        .with_detail(format!("{id} {cause}")),
    )
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
