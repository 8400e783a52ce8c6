//! Renewals, dunning retries and first-payment expiry. Each tick locks due subscriptions with
//! `FOR UPDATE SKIP LOCKED`, so several replicas share the work without doing any twice; a
//! renewal out at billing is leased (`renewal_claimed_until`), so no other replica charges it
//! again while no row lock is held.

use crate::error::SubscriptionError;
use crate::operations::{self, Due, RenewalCharge};
use crate::store::subscriptions;
use crate::State;
use events::test_clocks::{self, Pass};
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
///
/// A renewal is charged in three steps, holding no transaction or connection while billing works:
/// the charge is recorded (its id is deterministic per period and attempt, and billing's
/// idempotency key is derived from it), billing is called, and its answer is recorded. A crash or
/// another replica picking the same subscription in between reaches the same billing payment, and
/// the answer applies once (the charge's status is the guard).
pub async fn tick(state: &Arc<State>) -> Result<usize, SubscriptionError> {
    // The wall clock's pass, then one per test clock (sandbox only: `events::test_clocks`).
    let passes = {
        let mut conn = state.pool.get().await?;
        test_clocks::passes(&mut conn, state.config.test_clocks, state.clock.now()).await?
    };
    let mut handled = 0;
    for pass in passes {
        handled += run_pass(state, pass).await?;
        if let Some(clock) = pass.clock {
            // Each subscription moves one step a tick (one renewal, say): the advance is `ready`
            // once nothing on the clock is due at its `now` any more.
            let mut conn = state.pool.get().await?;
            if !subscriptions::any_due(&mut conn, pass).await? {
                crate::store::test_clocks::mark_ready(&mut conn, clock, pass.now).await?;
            }
        }
    }
    Ok(handled)
}

/// One pass of [`tick`]: the subscriptions on the pass's clock due at its `now`.
async fn run_pass(state: &Arc<State>, pass: Pass) -> Result<usize, SubscriptionError> {
    let mut handled = 0;
    // Trial reminders (`trial_will_end`), each once, before the renewals.
    loop {
        let sent = platform::db::transaction(&state.pool, move |conn| {
            Box::pin(async move { operations::announce_trials_ending(conn, pass, 100).await })
        })
        .await?;
        handled += sent;
        if sent < 100 {
            break;
        }
    }
    // Each subscription at most once per tick: done, failed, or waiting for its next retry.
    let mut seen: Vec<Uuid> = Vec::new();
    loop {
        let st = state.clone();
        let skip = seen.clone();
        let step = platform::db::transaction(&state.pool, move |conn| {
            Box::pin(async move {
                let due = subscriptions::lock_due(conn, pass, &skip, 1).await?;
                let Some(sub) = due.into_iter().next() else {
                    return Ok::<_, TickError>(None);
                };
                let (id, user) = (sub.id, sub.user_id);
                let next = operations::process_due(conn, &st, sub).await.map_err(|e| TickError::Item(id, e))?;
                if let Due::Charge(_) = next {
                    // Billing is called after this commit: the other replicas leave it alone.
                    subscriptions::claim_renewal(conn, id).await?;
                }
                Ok(Some((id, user, next)))
            })
        })
        .await;
        let user = match step {
            Ok(None) => break,
            Ok(Some((id, user, Due::Done))) => {
                seen.push(id);
                user
            }
            Ok(Some((id, user, Due::Charge(renewal)))) => {
                seen.push(id);
                if let Err(e) = charge_renewal(state, renewal).await {
                    tracing::warn!(subscription = %id, error = %e, "subscription scheduler: retrying next tick");
                    continue;
                }
                user
            }
            Err(TickError::Item(id, e)) => {
                tracing::warn!(subscription = %id, error = %e, "subscription scheduler: retrying next tick");
                seen.push(id);
                continue;
            }
            Err(TickError::Tick(e)) => return Err(e),
        };
        // After the commit, so no reader caches the state from before it.
        state.cache.invalidate(user);
        handled += 1;
    }
    Ok(handled)
}

/// Steps 2 and 3 of a renewal: billing's answer, recorded in a transaction of its own.
pub async fn charge_renewal(state: &Arc<State>, renewal: RenewalCharge) -> Result<(), SubscriptionError> {
    let answer = crate::billing::create_payment(
        &state.billing,
        renewal.user_id,
        renewal.amount,
        renewal.charge_id,
        &renewal.description,
        true,
        &renewal.lines,
    )
    .await;
    let id = renewal.subscription_id;
    if let Err(SubscriptionError::BillingUnavailable(_)) = &answer {
        // Retried on the next tick, by whichever replica comes first.
        let mut conn = state.pool.get().await?;
        subscriptions::release_renewal(&mut conn, id).await?;
        return answer.map(|_| ());
    }
    let st = state.clone();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            operations::record_renewal(conn, &st, &renewal, answer).await?;
            subscriptions::release_renewal(conn, id).await?;
            Ok(())
        })
    })
    .await
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
            let result = tick(&state).await;
            metrics.record("renewals", result.as_ref().ok().copied());
            if let Err(e) = result {
                tracing::warn!(error = %e, "subscription scheduler tick failed");
            }
        }
    })
}
