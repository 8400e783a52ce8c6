//! The background loop: expires licenses (releasing their seats), flags SLA breaches, and takes
//! the daily usage snapshot. Safe with several replicas: work rows are claimed with
//! `FOR UPDATE SKIP LOCKED` and the snapshot is an idempotent insert.

use crate::core;
use crate::error::LicensingError;
use crate::store::{licenses, tickets, usage};
use crate::State;
use events::catalog::licensing::{LicenseExpired, SeatReleaseReason};
use events::test_clocks::{self, Pass};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows claimed per transaction, so one tick never holds many locks for long.
const BATCH: i64 = 50;

pub fn spawn(
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
    metrics: platform::metrics::SchedulerMetrics,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_millis(state.config.scheduler_interval_ms.max(10));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            let result = tick(&state).await;
            // One pass runs every licensing job (expiry, SLA clocks, usage snapshots); its items
            // are the licenses expired and tickets flagged by this replica.
            metrics.record("licensing", result.as_ref().ok().copied());
            if let Err(e) = result {
                tracing::warn!(error = %e, "licensing scheduler tick failed");
            }
        }
    })
}

/// One pass of every job; returns the licenses expired plus the tickets flagged.
pub async fn tick(state: &State) -> Result<usize, LicensingError> {
    let mut handled = 0;
    // The wall clock's pass, then one per test clock (sandbox only: `events::test_clocks`).
    let passes = {
        let mut conn = state.pool.get().await?;
        test_clocks::passes(&mut conn, state.config.test_clocks, state.clock.now()).await?
    };
    for pass in passes {
        // Full batches mean more may wait; bounded so one tick always ends.
        for _ in 0..20 {
            let n = expire_batch(state, pass).await?;
            handled += n;
            if n < BATCH as usize {
                break;
            }
        }
        for _ in 0..20 {
            let n = breach_batch(state, pass).await?;
            handled += n;
            if n < BATCH as usize {
                break;
            }
        }
    }
    let mut conn = state.pool.get().await?;
    usage::snapshot(&mut conn, state.clock.now().date_naive()).await?;
    Ok(handled)
}

/// Expire licenses whose `expires_at` passed: release every seat, mark expired, announce.
async fn expire_batch(state: &State, pass: Pass) -> Result<usize, LicensingError> {
    let now = pass.now;
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let due = licenses::lock_due_for_expiry(conn, pass, BATCH).await?;
            for license in &due {
                let (released, _) =
                    core::seats::release_all(conn, license, SeatReleaseReason::LicenseExpired, now).await?;
                licenses::set_status(conn, license.id, "expired", None, now).await?;
                let license_version = licenses::next_version(conn, license.id).await?;
                events::outbox::enqueue(
                    conn,
                    &LicenseExpired {
                        license_id: license.id,
                        organization_id: license.organization_id,
                        tier: license.tier.clone(),
                        seats_released: released,
                        expires_at: license.expires_at,
                        expired_at: now,
                        license_version,
                    },
                )
                .await?;
                tracing::info!(license_id = %license.id, released, "license expired");
            }
            Ok::<_, LicensingError>(due.len())
        })
    })
    .await
}

/// Flag tickets whose first response or resolution is overdue.
async fn breach_batch(state: &State, pass: Pass) -> Result<usize, LicensingError> {
    let now = pass.now;
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let mut due = tickets::lock_first_response_overdue(conn, pass, BATCH).await?;
            let more = tickets::lock_resolution_overdue(conn, pass, BATCH).await?;
            for t in more {
                if !due.iter().any(|d| d.id == t.id) {
                    due.push(t);
                }
            }
            let n = due.len();
            for ticket in due {
                core::tickets::save(conn, ticket, now).await?;
            }
            Ok::<_, LicensingError>(n.min(BATCH as usize))
        })
    })
    .await
}
