//! Reconciliation of lost webhooks (issue 15). Stripe retries a webhook for three days and then
//! gives up; an endpoint down past that, or a signing secret rotated wrong, leaves a payment Stripe
//! took recorded as unpaid here forever, and its buyer with nothing. So this job asks Stripe
//! itself: every payment that is not succeeded or canceled, and every refund whose effect is not
//! applied (pending, or succeeded and not announced), once unchanged for
//! `BILLING_RECONCILE_AFTER_SECONDS`, is re-read from Stripe and settled by the webhook's own code:
//! [`webhooks::intent_facts`] / [`webhooks::refund_facts`] read, [`webhooks::apply`] applies under
//! the payment's lock. Every rule there only moves forward, so a webhook arriving after the job
//! (or during it) finds nothing left to do: no second event, no second grant.
//!
//! Safe with several replicas: rows are claimed by stamping `reconciled_at` in one
//! `FOR UPDATE SKIP LOCKED` statement, which also spaces two reads of one row by the same age.
//! No transaction or pooled connection is held while Stripe is asked.

use crate::error::BillingError;
use crate::store::{payments, reconcile as store};
use crate::webhooks::{self, Outcome};
use crate::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Rows claimed per statement; a full batch is followed at once by the next.
const BATCH: i64 = 50;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Payments and payments-with-refunds re-read from Stripe.
    pub checked: usize,
    /// Of those, how many changed our record (a lost webhook made good).
    pub applied: usize,
}

pub fn spawn(state: Arc<State>, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_millis(state.config.reconcile_interval_ms.max(10));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            match tick(&state).await {
                Ok(Pass { applied: 0, .. }) => {}
                Ok(pass) => tracing::warn!(
                    checked = pass.checked,
                    applied = pass.applied,
                    "reconciliation applied what lost webhooks would have"
                ),
                Err(e) => tracing::warn!(error = %e, "reconciliation pass failed"),
            }
        }
    })
}

/// One pass over everything due: payments first, then refunds (a refund of a payment whose
/// success was also lost settles the payment first either way).
pub async fn tick(state: &State) -> Result<Pass, BillingError> {
    let age = i64::try_from(state.config.reconcile_after_seconds).unwrap_or(i64::MAX);
    let mut pass = Pass::default();
    loop {
        let ids = {
            let mut conn = state.pool.get().await?;
            store::claim_payments(&mut conn, age, BATCH).await?
        };
        for id in &ids {
            settle(state, &mut pass, *id, Kind::Payment).await;
        }
        if ids.len() < BATCH as usize {
            break;
        }
    }
    loop {
        let ids = {
            let mut conn = state.pool.get().await?;
            store::claim_refunds(&mut conn, age, BATCH).await?
        };
        for id in &ids {
            settle(state, &mut pass, *id, Kind::Refunds).await;
        }
        if ids.len() < BATCH as usize {
            break;
        }
    }
    Ok(pass)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Payment,
    Refunds,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Payment => "payment",
            Kind::Refunds => "refunds",
        }
    }
}

/// One payment; a failure is logged and left for the next pass (the claim's stamp spaces retries).
async fn settle(state: &State, pass: &mut Pass, payment_id: Uuid, kind: Kind) {
    pass.checked += 1;
    let result = match reconcile_one(state, payment_id, kind).await {
        Ok(Outcome::Applied) => {
            pass.applied += 1;
            tracing::warn!(payment = %payment_id, ?kind, "reconciled with Stripe: its webhook never arrived");
            "applied"
        }
        Ok(_) => "unchanged",
        Err(e) => {
            tracing::warn!(payment = %payment_id, ?kind, error = %e, "reconciling with Stripe failed");
            "failed"
        }
    };
    state.metrics.reconciliations.inc(&[kind.label(), result]);
}

async fn reconcile_one(state: &State, payment_id: Uuid, kind: Kind) -> Result<Outcome, BillingError> {
    let payment = {
        let mut conn = state.pool.get().await?;
        payments::find(&mut conn, payment_id).await?
    };
    let Some(payment) = payment else {
        return Ok(Outcome::Ignored);
    };
    // Stripe is asked with nothing held.
    let facts = match kind {
        Kind::Payment => webhooks::intent_facts(state, &payment).await?,
        Kind::Refunds => webhooks::refund_facts(state, &payment).await?,
    };
    let now = state.clock.now();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move { webhooks::apply(conn, &facts, now).await })
    })
    .await
}
