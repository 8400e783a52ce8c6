//! Giving back payments nobody will use (contract V). Marketplace and subscriptions announce
//! `*.payment.void_requested.v1`; billing records one void per payment in the consumer's inbox
//! transaction, and a background worker settles it with Stripe: cancel the PaymentIntent while no
//! money moved, refund everything once it has (reason `unfulfillable`, initiated by `system`).
//!
//! The worker is safe with several replicas and holds no transaction or pooled connection across
//! a Stripe call: a void is claimed by pushing its next attempt one lease into the future (one
//! `UPDATE ... FOR UPDATE SKIP LOCKED` statement), Stripe is called with nothing held, and the
//! outcome is written in a second short transaction. The refund's idempotency key and our refund
//! id are both derived from the payment id, so a retry, a lease that ran out, or a second replica
//! gets Stripe's first refund back instead of a second one, and records it once.

use crate::domain::payment as payment_rules;
use crate::domain::void::{self as rules, Action};
use crate::error::BillingError;
use crate::store::voids::{self as store, Void};
use crate::store::{history, payments, refunds};
use crate::State;
use diesel_async::AsyncPgConnection;
use events::{CloudEvent, HandlerError};
use platform::money::{Currency, Money};
use platform::Problem;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

/// The two request types billing consumes. Their structs live in the producers' catalog files;
/// billing decodes only the fields it needs (below), so their changes cannot break it.
pub const MARKETPLACE_VOID_REQUESTED: &str = "marketplace.payment.void_requested.v1";
pub const SUBSCRIPTIONS_VOID_REQUESTED: &str = "subscriptions.payment.void_requested.v1";

/// Voids settled per claim; the rest wait for the next pass (which follows at once).
const BATCH: i64 = 10;
/// Why a refund made by this worker exists, as stored and as sent in Stripe's metadata.
pub const REFUND_REASON: &str = "unfulfillable";
pub const REFUND_REQUESTED_BY: &str = "system";

/// `*.payment.void_requested.v1` as billing reads it: lenient, only what it acts on.
#[derive(Debug, Deserialize)]
struct VoidRequest {
    payment_id: Uuid,
    #[serde(default)]
    user_id: Option<Uuid>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    requested_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Record a void request (in the consumer's inbox transaction).
///
/// A payment id billing does not know is recorded as `failed` and acknowledged, not retried: the
/// requester learns a payment id only from billing's answer to its create call, which is sent after
/// the payment row committed, so an unknown id can never appear later. Requests for a payment of
/// another purpose or user are refused the same way: a refund is money, and only the service that
/// asked for a payment may give it up.
pub async fn record_request(conn: &mut AsyncPgConnection, event: &CloudEvent) -> Result<(), HandlerError> {
    let req: VoidRequest = serde_json::from_value(event.data.clone())
        .map_err(|e| HandlerError::Reject(format!("{}: {e}", event.event_type)))?;
    let payment = payments::find(conn, req.payment_id).await?;
    let refused = match &payment {
        None => Some("unknown payment: billing never created it".to_string()),
        Some(p) if !rules::may_void(&event.event_type, &p.purpose) => {
            Some(format!("{} may not void a {} payment", event.event_type, p.purpose))
        }
        Some(p) if req.user_id.is_some_and(|u| u != p.user_id) => {
            Some("the request names another user than the payment's".to_string())
        }
        Some(_) => None,
    };
    if let Some(why) = &refused {
        tracing::error!(payment = %req.payment_id, event = %event.id, %why, "void request refused");
    }
    let reason = req.reason.as_deref().filter(|r| !r.is_empty()).unwrap_or("unspecified");
    let new = store::NewVoid {
        payment_id: req.payment_id,
        reason,
        source_event_type: &event.event_type,
        source_event_id: event.id,
        requested_at: req.requested_at.unwrap_or(event.time),
        state: if refused.is_some() { store::FAILED } else { store::PENDING },
        last_error: refused.as_deref(),
    };
    if !store::insert(conn, &new).await? {
        tracing::debug!(payment = %req.payment_id, "void already requested");
    }
    Ok(())
}

/// Called by the success path (`webhooks::record_success`, in its transaction): a payment that
/// succeeds after its void was recorded (the customer confirmed while the cancel was on its way,
/// or the worker gave up) goes back to the worker, to be refunded.
pub async fn on_payment_succeeded(conn: &mut AsyncPgConnection, payment_id: Uuid) -> Result<(), BillingError> {
    if store::reopen_for_refund(conn, payment_id).await? > 0 {
        tracing::info!(payment = %payment_id, "payment succeeded after its void: refunding it");
    }
    Ok(())
}

/// The worker's settings, from billing's config.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How often to look for due voids when nothing woke the worker.
    pub poll: Duration,
    /// First delay after a failed attempt; doubled per attempt, at most an hour.
    pub retry_base: Duration,
    /// How long a claimed void stays invisible to other workers: longer than any Stripe exchange.
    pub lease: Duration,
}

/// Run the worker until shutdown. `wake` is notified when a void was recorded in this process.
pub fn spawn(
    state: Arc<State>,
    timing: Timing,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let busy = match tick(&state, &timing).await {
                Ok(n) => n == BATCH as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "void worker pass failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(timing.poll) => {}
                _ = wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// One pass: claim the due voids and settle each. Returns how many were claimed.
pub async fn tick(state: &State, timing: &Timing) -> Result<usize, BillingError> {
    let claimed = {
        let mut conn = state.pool.get().await?;
        store::claim_due(&mut conn, millis(timing.lease), BATCH).await?
    };
    for void in &claimed {
        if let Err(e) = settle(state, timing, void).await {
            // The lease brings it back later; nothing was half-written (each write is one transaction).
            tracing::warn!(payment = %void.payment_id, error = %e, "settling a void failed");
        }
    }
    Ok(claimed.len())
}

/// What the Stripe side of one attempt came to.
enum Step {
    Canceled,
    Refunded(stripe::Refund),
    /// Stripe has nothing left to refund on the charge.
    NothingLeft,
    RefundSettled,
    /// Look again now (the intent changed under us).
    Again(String),
    Retry(String),
    Fail(String),
}

async fn settle(state: &State, timing: &Timing, void: &Void) -> Result<(), BillingError> {
    let payment = {
        let mut conn = state.pool.get().await?;
        payments::find(&mut conn, void.payment_id).await?
    };
    let Some(payment) = payment else {
        let mut conn = state.pool.get().await?;
        store::fail(&mut conn, void.payment_id, "unknown payment").await?;
        return Ok(());
    };
    // No connection is held from here until the outcome is written.
    let step = if void.state == store::REFUND_REQUESTED {
        check_refund(state, void).await?
    } else {
        act(state, void, &payment).await
    };
    record(state, timing, void, &payment, step).await
}

async fn act(state: &State, void: &Void, payment: &payments::Payment) -> Step {
    let intent_id = &payment.stripe_payment_intent_id;
    let intent = match state.stripe.retrieve_payment_intent(intent_id).await {
        Ok(intent) => intent,
        Err(e) => return stripe_failure(e),
    };
    match rules::action_for(intent.status) {
        Action::AlreadyCanceled => Step::Canceled,
        Action::Wait => Step::Retry(format!("the PaymentIntent is {}", payment_rules::status_name(intent.status))),
        Action::Refund => refund(state, void, payment).await,
        Action::Cancel => {
            let params =
                stripe::CancelPaymentIntent { cancellation_reason: Some(rules::cancellation_reason(&void.reason)) };
            // Scoped to the attempt: a cancel refused because the intent moved must not be replayed later.
            let key = match key("void-cancel", format!("{}:{}", void.payment_id, void.attempts)) {
                Ok(k) => k,
                Err(e) => return Step::Fail(e.to_string()),
            };
            match state.stripe.cancel_payment_intent(intent_id, &params, &key).await {
                Ok(pi) if pi.status == stripe::PaymentIntentStatus::Canceled => Step::Canceled,
                Ok(pi) => Step::Again(format!("cancel left the PaymentIntent {:?}", pi.status)),
                // The customer confirmed (or Stripe moved it) between our look and the cancel.
                Err(e) if e.code() == Some("payment_intent_unexpected_state") => Step::Again(e.to_string()),
                Err(e) => stripe_failure(e),
            }
        }
    }
}

/// Our refund id for a void: derived, so every attempt sends Stripe identical parameters under
/// the same idempotency key and records the same row.
fn refund_id_for(payment_id: Uuid) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("void-refund:{payment_id}").as_bytes())
}

async fn refund(state: &State, void: &Void, payment: &payments::Payment) -> Step {
    let refund_id = refund_id_for(payment.id);
    let params = stripe::CreateRefund {
        payment_intent: Some(payment.stripe_payment_intent_id.clone()),
        // Everything Stripe still holds on the charge, whoever refunded part of it before.
        amount: None,
        // Stripe has no `unfulfillable`: it goes in the metadata, as contract R says.
        reason: None,
        metadata: [
            ("refund_id", refund_id.to_string()),
            ("payment_id", payment.id.to_string()),
            ("reason", REFUND_REASON.to_string()),
            ("initiated_by", REFUND_REQUESTED_BY.to_string()),
            ("void_reason", void.reason.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        ..Default::default()
    };
    let key = match key("void-refund", payment.id) {
        Ok(k) => k,
        Err(e) => return Step::Fail(e.to_string()),
    };
    match state.stripe.create_refund(&params, &key).await {
        Ok(refund) => Step::Refunded(refund),
        Err(e) if e.code() == Some("charge_already_refunded") => Step::NothingLeft,
        Err(e) => stripe_failure(e),
    }
}

/// A refund Stripe accepted but had not settled: ask again how it went.
async fn check_refund(state: &State, void: &Void) -> Result<Step, BillingError> {
    let stripe_id = match void.refund_id {
        Some(id) => {
            let mut conn = state.pool.get().await?;
            store::stripe_refund_id(&mut conn, id).await?
        }
        None => None,
    };
    let Some(stripe_id) = stripe_id else {
        return Ok(Step::Fail("refund_requested without a recorded refund".into()));
    };
    Ok(match state.stripe.retrieve_refund(&stripe_id).await {
        Ok(r) => match r.status {
            stripe::RefundStatus::Succeeded => Step::RefundSettled,
            stripe::RefundStatus::Failed | stripe::RefundStatus::Canceled => Step::Fail(format!(
                "Stripe refund {stripe_id} {}: {}",
                payment_rules::refund_status_name(r.status),
                r.failure_reason.unwrap_or_default()
            )),
            _ => Step::Retry(format!(
                "Stripe refund {stripe_id} is still {}",
                payment_rules::refund_status_name(r.status)
            )),
        },
        Err(e) => stripe_failure(e),
    })
}

fn stripe_failure(e: stripe::StripeError) -> Step {
    if e.is_retryable() {
        Step::Retry(e.to_string())
    } else {
        Step::Fail(e.to_string())
    }
}

fn key(op: &str, id: impl std::fmt::Display) -> Result<stripe::IdempotencyKey, stripe::StripeError> {
    stripe::IdempotencyKey::for_operation(op, id)
}

/// Write the outcome of one attempt, in one short transaction. The payment is locked before the
/// void, the order the success path takes them in. An outcome is written only while the void is
/// as this worker claimed it (`updated_at` unchanged): if the success path reopened it meanwhile,
/// the next pass acts on the new facts. A refund Stripe made is recorded regardless, once.
async fn record(
    state: &State,
    timing: &Timing,
    claimed: &Void,
    payment: &payments::Payment,
    step: Step,
) -> Result<(), BillingError> {
    let base = chrono::Duration::from_std(timing.retry_base).unwrap_or(chrono::Duration::seconds(5));
    let payment = payment.clone();
    let claimed = claimed.clone();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let locked = payments::lock(conn, payment.id).await?.ok_or(BillingError::PaymentNotFound)?;
            let Some(current) = store::lock(conn, claimed.payment_id).await? else {
                return Ok(());
            };
            let unchanged = current.updated_at == claimed.updated_at && current.state == claimed.state;
            match step {
                Step::Refunded(refund) => record_refund(conn, &locked, &current, &refund).await?,
                _ if !unchanged => {
                    tracing::debug!(payment = %payment.id, "void changed while settling; the next pass decides");
                }
                Step::Canceled => {
                    store::settle(conn, payment.id, store::CANCELED, None).await?;
                    if locked.status != payment_rules::SUCCEEDED && locked.status != payment_rules::CANCELED {
                        payments::set_status(conn, payment.id, payment_rules::CANCELED).await?;
                    }
                    tracing::info!(payment = %payment.id, reason = %claimed.reason, "PaymentIntent canceled");
                }
                Step::NothingLeft => {
                    store::settle(conn, payment.id, store::DONE, current.refund_id).await?;
                    tracing::info!(payment = %payment.id, "nothing left to refund");
                }
                Step::RefundSettled => {
                    if let Some(id) = current.refund_id {
                        store::set_refund_status(conn, id, "succeeded").await?;
                    }
                    store::settle(conn, payment.id, store::DONE, current.refund_id).await?;
                }
                Step::Again(why) => {
                    // Straight back, but not in a tight loop if Stripe keeps contradicting itself.
                    let delay = if claimed.attempts < 3 {
                        chrono::Duration::zero()
                    } else {
                        rules::backoff(base, claimed.attempts)
                    };
                    store::retry_later(conn, payment.id, delay.num_milliseconds(), &why).await?;
                }
                Step::Retry(why) => {
                    let delay = rules::backoff(base, claimed.attempts);
                    tracing::warn!(payment = %payment.id, attempts = claimed.attempts, %why, "void retried later");
                    store::retry_later(conn, payment.id, delay.num_milliseconds(), &why).await?;
                }
                Step::Fail(why) => {
                    tracing::error!(payment = %payment.id, %why, "void failed: needs a person");
                    store::fail(conn, payment.id, &why).await?;
                }
            }
            Ok::<_, BillingError>(())
        })
    })
    .await
}

/// The refund row (requested by `system`, reason `unfulfillable`) and the buyer's history line, once.
async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    void: &Void,
    refund: &stripe::Refund,
) -> Result<(), BillingError> {
    let status = payment_rules::refund_status_name(refund.status);
    let next = match refund.status {
        stripe::RefundStatus::Succeeded => store::DONE,
        stripe::RefundStatus::Failed | stripe::RefundStatus::Canceled => store::FAILED,
        _ => store::REFUND_REQUESTED,
    };
    // Recorded already: by another worker that got the same refund back, or by the webhook path.
    if let Some(existing) = store::refund_by_stripe_id(conn, &refund.id).await? {
        if void.refund_id.is_none() || void.state == store::PENDING {
            store::settle(conn, payment.id, next, Some(existing)).await?;
        }
        return Ok(());
    }
    let currency: Currency =
        payment.currency.trim().parse().map_err(|e| BillingError::Problem(Problem::internal(e)))?;
    let amount = Money::from_minor_units(refund.amount, currency).amount;
    let refund_id = refund_id_for(payment.id);
    refunds::insert(
        conn,
        &refunds::NewRefund {
            id: refund_id,
            payment_id: payment.id,
            amount,
            currency: payment.currency.trim(),
            reason: REFUND_REASON,
            status,
            stripe_refund_id: &refund.id,
            requested_by: REFUND_REQUESTED_BY,
        },
    )
    .await?;
    history::insert_refund(conn, payment, refund_id, amount, "Refund (no longer needed)").await?;
    if next == store::FAILED {
        tracing::error!(payment = %payment.id, refund = %refund.id, "Stripe refused the automatic refund");
        store::fail(conn, payment.id, &format!("Stripe refund {} {status}", refund.id)).await?;
        return Ok(());
    }
    store::settle(conn, payment.id, next, Some(refund_id)).await?;
    tracing::info!(payment = %payment.id, %amount, reason = %void.reason, "payment refunded: no longer needed");
    Ok(())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
