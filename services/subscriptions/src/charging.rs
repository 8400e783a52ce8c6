//! The outcomes of our charges at billing: a payment succeeded, a payment was refunded, a charge
//! was abandoned. Each function runs inside the caller's transaction and locks the subscription
//! before its charge (the order every writer uses, so two of them never deadlock).
//!
//! Money subscriptions cannot use (a first payment made after the subscription closed, a second
//! payment for a charge or period already paid, an upgrade that no longer applies) goes back:
//! `subscriptions.payment.void_requested.v1` asks billing to cancel the PaymentIntent, or to refund
//! it in full once it has succeeded (contract V).

use crate::domain::charge::{self as rules, RefundEffect, Verdict};
use crate::domain::lifecycle::{Event, Status};
use crate::error::SubscriptionError;
use crate::operations::{apply, snapshot_canceled, status};
use crate::store::charges::{self, Charge, SUCCEEDED};
use crate::store::subscriptions::{self as subs, Subscription};
use crate::{operations, State};
use diesel_async::AsyncPgConnection;
use events::catalog::subscriptions as ev;
use events::outbox;
use platform::Problem;
use uuid::Uuid;

/// What a successful payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paid {
    /// It activated, renewed or upgraded the subscription.
    Applied,
    /// Already recorded (billing's answer and its event both report it).
    AlreadyApplied,
    /// The subscription cannot use it: billing was asked to give it back.
    Voided,
}

fn missing(what: &str) -> SubscriptionError {
    Problem::internal(format!("{what} not found")).into()
}

/// Ask billing, through the outbox, to cancel or refund `payment_id`: subscriptions will never use it.
pub async fn request_void(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    charge_id: Uuid,
    payment_id: Uuid,
    reason: &str,
) -> Result<(), SubscriptionError> {
    tracing::info!(charge = %charge_id, payment = %payment_id, reason, "asking billing to void a payment");
    outbox::enqueue(
        conn,
        &ev::PaymentVoidRequested {
            payment_id,
            user_id,
            reference_id: charge_id.to_string(),
            reason: reason.to_string(),
            requested_at: state.clock.now(),
        },
    )
    .await?;
    Ok(())
}

/// The subscription just closed: every charge it did not get paid is abandoned, and billing is
/// asked to cancel the payments of those that have one (so a late confirmation takes no money; if
/// one still succeeds, billing refunds it). A charge whose payment billing has not answered yet is
/// voided when the answer is recorded ([`operations::record_first_payment`]).
pub async fn abandon_unpaid(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &Subscription,
) -> Result<(), SubscriptionError> {
    let reason = rules::close_reason(status(sub)?);
    for charge in charges::lock_unpaid(conn, sub.id).await? {
        charges::void(conn, charge.id, reason).await?;
        if let Some(payment) = charge.payment_id {
            request_void(conn, state, sub.user_id, charge.id, payment, reason).await?;
        }
    }
    Ok(())
}

/// A payment for one of our charges succeeded (billing's event, or its synchronous answer).
pub async fn on_charge_paid(
    conn: &mut AsyncPgConnection,
    state: &State,
    subscription_id: Uuid,
    charge_id: Uuid,
    payment_id: Uuid,
) -> Result<Paid, SubscriptionError> {
    let mut sub = subs::lock(conn, subscription_id).await?.ok_or_else(|| missing("subscription"))?;
    let charge = charges::lock(conn, charge_id).await?.ok_or_else(|| missing("charge"))?;
    let this_payment = charge.payment_id == Some(payment_id);
    if charge.status == SUCCEEDED {
        if this_payment {
            return Ok(Paid::AlreadyApplied);
        }
        // Two PaymentIntents for one charge both succeeded: the second paid for nothing.
        request_void(conn, state, sub.user_id, charge.id, payment_id, rules::void_reason::DUPLICATE_PAYMENT).await?;
        return Ok(Paid::Voided);
    }
    if charge.status == charges::VOIDED && this_payment {
        // Voided with its subscription, then paid anyway: ask again (duplicates are harmless,
        // and billing refunds a voided payment that succeeds).
        let reason = charge.void_reason.as_deref().unwrap_or(rules::void_reason::SUBSCRIPTION_CANCELED);
        request_void(conn, state, sub.user_id, charge.id, payment_id, reason).await?;
        return Ok(Paid::Voided);
    }
    let verdict = rules::on_paid(rules::Paid {
        kind: &charge.kind,
        status: status(&sub)?,
        charge_period_end: charge.period_end,
        current_period_end: sub.current_period_end,
        current_rank: operations::tier(conn, &sub.tier).await?.rank,
        charge_rank: operations::tier(conn, &charge.tier).await?.rank,
    });
    let now = operations::now_of(conn, state, &sub).await?;
    match verdict {
        Verdict::Void(reason) => {
            // Kept `voided` with its payment: a refund of it is money we gave back, not a refund
            // that should end anything.
            charges::settle(conn, charge.id, Some(payment_id), charges::VOIDED).await?;
            charges::void(conn, charge.id, reason).await?;
            request_void(conn, state, sub.user_id, charge.id, payment_id, reason).await?;
            tracing::warn!(subscription = %sub.id, charge = %charge.id, %payment_id, reason,
                "a payment succeeded that the subscription cannot use: billing refunds it");
            return Ok(Paid::Voided);
        }
        Verdict::Activate => operations::activate(conn, &mut sub, now).await?,
        Verdict::Renew => operations::renew_period(conn, &mut sub, now, &charge).await?,
        Verdict::Upgrade => operations::apply_upgrade(conn, &mut sub, now, &charge).await?,
    }
    charges::settle(conn, charge.id, Some(payment_id), SUCCEEDED).await?;
    state.cache.invalidate(sub.user_id);
    Ok(Paid::Applied)
}

/// A payment attempt for one of our charges failed. A first payment stays open, as Stripe's does:
/// the customer may still pay the same PaymentIntent with another card until the subscription
/// expires (`first_payment_timeout_hours`). Renewals and upgrades are decided where they are charged.
pub async fn on_charge_failed(charge: &Charge) -> Result<(), SubscriptionError> {
    tracing::info!(charge = %charge.id, kind = %charge.kind, "a payment attempt failed; the charge stays open");
    Ok(())
}

/// Billing refunded (part of) a payment for one of our charges. `Err(NotYetPaid)` is for the
/// caller to retry: the success this refund reverses has not been applied here yet.
pub async fn on_refunded(
    conn: &mut AsyncPgConnection,
    state: &State,
    subscription_id: Uuid,
    charge_id: Uuid,
    payment_id: Uuid,
    ends_access: bool,
) -> Result<RefundEffect, SubscriptionError> {
    let mut sub = subs::lock(conn, subscription_id).await?.ok_or_else(|| missing("subscription"))?;
    let charge = charges::lock(conn, charge_id).await?.ok_or_else(|| missing("charge"))?;
    let effect = rules::on_refunded(&charge.status, charge.payment_id == Some(payment_id), ends_access, status(&sub)?);
    if effect == RefundEffect::Cancel {
        let now = state.clock.now();
        apply(&mut sub, Event::Cancel, now)?;
        sub.cancel_at_period_end = false;
        let sub = subs::save(conn, &sub).await?;
        outbox::enqueue(conn, &snapshot_canceled(&sub, now, "refunded")).await?;
        abandon_unpaid(conn, state, &sub).await?;
        state.cache.invalidate(sub.user_id);
        tracing::info!(subscription = %sub.id, charge = %charge.id, %payment_id, "refunded: subscription canceled");
    }
    Ok(effect)
}

/// Whether a subscription's status still takes payments.
pub fn is_live(sub: &Subscription) -> bool {
    Status::parse(&sub.status).is_some_and(Status::is_live)
}
