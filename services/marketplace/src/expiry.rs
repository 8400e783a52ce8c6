//! Expiry of abandoned purchases (issue 15): a purchase never paid within
//! `MARKETPLACE_PURCHASE_EXPIRY_MINUTES` (default 24 h: pending, or declined and not retried) has
//! its PaymentIntent canceled at Stripe through billing (`POST /internal/payments/{id}/cancel`),
//! then:
//!
//! - canceled: the purchase is closed through [`purchasing::close`], the one close path (it
//!   also releases what the purchase held, and still sends `marketplace.payment.void_requested.v1`:
//!   billing finds the intent canceled and only records it, and should a success ever be reported
//!   for it, that recorded void is what refunds it);
//! - succeeded (the customer paid before the cancel, and Stripe refused it): the purchase completes
//!   through [`purchasing::on_paid`], the code `billing.payment.succeeded.v1` runs, so that event
//!   arriving later changes nothing;
//! - anything else (billing unreachable, Stripe still `processing`): left as it is and tried again
//!   after [`RETRY_SECS`].
//!
//! Nothing is lost in either order: a success that arrives after the close finds the purchase
//! closed and is handed back (`on_paid` -> void -> billing refunds it, the defects issue's rule).
//! No transaction is held while billing is called: purchases are claimed by stamping them (one
//! `FOR UPDATE SKIP LOCKED` statement, so replicas share them), billing is asked, and each outcome
//! is applied in a short transaction that re-reads the purchase under its lock.

use crate::billing::CancelOutcome;
use crate::domain::purchase::{FAILED, PENDING, PURCHASE_EXPIRED};
use crate::error::MarketError;
use crate::store::purchases;
use crate::{purchasing, State};
use events::test_clocks::Pass;
use std::sync::Arc;
use uuid::Uuid;

const BATCH: i64 = 100;
/// Least time between two attempts to expire one purchase.
pub const RETRY_SECS: i64 = 60;

/// Expire everything due at the clock's now (and, sandbox only, at each test clock's now for the
/// purchases on it: `events::test_clocks`, as earnings maturity); returns how many purchases were
/// settled (closed or completed).
pub async fn run(state: &Arc<State>) -> Result<usize, MarketError> {
    let passes = {
        let mut conn = state.pool.get().await?;
        events::test_clocks::passes(&mut conn, state.config.test_clocks, state.clock.now()).await?
    };
    let mut settled = 0;
    for pass in passes {
        settled += run_pass(state, pass).await?;
    }
    Ok(settled)
}

async fn run_pass(state: &Arc<State>, pass: Pass) -> Result<usize, MarketError> {
    let minutes = state.config.purchase_expiry_minutes;
    let mut settled = 0;
    loop {
        let ids = {
            let mut conn = state.pool.get().await?;
            purchases::claim_expired(&mut conn, pass, minutes, RETRY_SECS, BATCH).await?
        };
        for id in &ids {
            match expire(state, *id).await {
                Ok(true) => settled += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(purchase = %id, error = %e, "expiring a purchase failed; retried later"),
            }
        }
        if ids.len() < BATCH as usize {
            return Ok(settled);
        }
    }
}

/// One purchase: billing first (nothing held), then the outcome under the purchase's lock.
async fn expire(state: &Arc<State>, id: Uuid) -> Result<bool, MarketError> {
    let purchase = {
        let mut conn = state.pool.get().await?;
        purchases::find(&mut conn, id).await?
    };
    let Some(purchase) = purchase else {
        return Ok(false);
    };
    // A purchase whose payment billing never answered has no intent to cancel.
    let cancel = match purchase.payment_id {
        Some(payment_id) => Some((payment_id, crate::billing::cancel_payment(&state.billing, payment_id, id).await?)),
        None => None,
    };
    let st = state.clone();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let Some(purchase) = purchases::lock(conn, id).await? else {
                return Ok(false);
            };
            // Paid (its event won the race), or closed by another path meanwhile: nothing to do.
            if purchase.closed_reason.is_some() || !matches!(purchase.status.as_str(), PENDING | FAILED) {
                return Ok(false);
            }
            match cancel {
                Some((payment_id, answer)) if answer.outcome == CancelOutcome::Succeeded => {
                    tracing::info!(purchase = %id, %payment_id, "expiring purchase was paid after all: completing it");
                    purchasing::on_paid(conn, &st, &purchase, payment_id, crate::billing::charged(&answer.payment))
                        .await?;
                }
                Some(_) | None => {
                    purchasing::close(conn, &st, &purchase, PURCHASE_EXPIRED).await?;
                }
            }
            Ok::<_, MarketError>(true)
        })
    })
    .await
}
