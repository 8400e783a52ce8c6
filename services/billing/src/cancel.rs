//! Canceling a payment's PaymentIntent now, for the service that asked for it (marketplace's
//! expiry of abandoned purchases, issue 15): `POST /internal/payments/{id}/cancel`.
//!
//! The asynchronous void (`voids`) gives a payment back eventually; this answers at once whether
//! the money moved, so the caller can close its purchase, or complete it when the customer paid
//! after all (Stripe refuses to cancel a succeeded intent). Whatever Stripe says is applied through
//! the webhook's code ([`webhooks::apply`]): a success found here is recorded and announced
//! (`billing.payment.succeeded.v1`) exactly as its webhook would have, and the webhook arriving
//! later changes nothing.

use crate::domain::void::{self as rules, Action};
use crate::error::BillingError;
use crate::store::payments::Payment;
use crate::webhooks::{self, Facts};
use crate::State;

/// The cancel at Stripe, holding no connection, then what Stripe says now about the intent.
pub async fn at_stripe(state: &State, payment: &Payment, reason: &str) -> Result<Facts, BillingError> {
    let intent_id = &payment.stripe_payment_intent_id;
    let intent = state.stripe.retrieve_payment_intent(intent_id).await?;
    if rules::action_for(intent.status) == Action::Cancel {
        let params = stripe::CancelPaymentIntent { cancellation_reason: Some(rules::cancellation_reason(reason)) };
        // A fresh key per attempt: a cancel is idempotent by nature (the intent is read back
        // below), and a refusal replayed under an old key would hide an intent that can be
        // canceled now.
        let key = stripe::IdempotencyKey::for_operation("pi-cancel", uuid::Uuid::now_v7())
            .map_err(platform::Problem::internal)?;
        match state.stripe.cancel_payment_intent(intent_id, &params, &key).await {
            Ok(_) => {}
            // The customer confirmed (or Stripe moved it) between our read and the cancel: the
            // read below says where it went.
            Err(e) if e.code() == Some("payment_intent_unexpected_state") => {
                tracing::info!(payment = %payment.id, "cancel refused by Stripe: the intent moved");
            }
            Err(e) => return Err(e.into()),
        }
    }
    webhooks::intent_facts(state, payment).await
}
