//! Applying Stripe's notifications. Each runs inside the transaction that records the Stripe event
//! id, so a duplicate delivery is a no-op and a failure leaves nothing half-applied (Stripe retries).
//! Order is not trusted: when our state and the notification disagree, the PaymentIntent is
//! fetched again and the current truth is applied.

use crate::domain::payment::{self as rules, Decision};
use crate::domain::receipt::receipt_number;
use crate::error::BillingError;
use crate::store::{customers, history, payments, receipts};
use crate::State;
use chrono::{Datelike, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{PaymentFailed, PaymentPurpose, PaymentRefunded, PaymentSucceeded};
use platform::money::{Currency, Money};
use platform::Problem;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Ignored,
}

/// Dispatch one verified event.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    state: &State,
    event: &stripe::Event,
) -> Result<Outcome, BillingError> {
    let invalid = |e: stripe::WebhookError| BillingError::InvalidWebhook(e.to_string());
    match event.kind() {
        // Every intent notification is handled alike: the intent is re-fetched and its current status applied.
        stripe::EventType::PaymentIntentSucceeded
        | stripe::EventType::PaymentIntentPaymentFailed
        | stripe::EventType::PaymentIntentCanceled => {
            let intent = event.payment_intent().map_err(invalid)?;
            on_intent_update(conn, state, &intent).await
        }
        stripe::EventType::ChargeRefunded => {
            let charge = event.charge().map_err(invalid)?;
            on_charge_refunded(conn, state, &charge).await
        }
        stripe::EventType::Other(kind) => {
            tracing::debug!(%kind, "ignoring Stripe event type");
            Ok(Outcome::Ignored)
        }
    }
}

/// The payment for `intent`, locked. `None` for intents this platform never created. An intent of
/// ours that is not committed yet (the notification raced our own transaction) is an error, so
/// Stripe delivers it again later.
async fn payment_for(
    conn: &mut AsyncPgConnection,
    intent_id: &str,
    metadata: &stripe::Metadata,
) -> Result<Option<payments::Payment>, BillingError> {
    match payments::lock_by_intent(conn, intent_id).await? {
        Some(p) => Ok(Some(p)),
        None if metadata.contains_key("payment_id") => Err(BillingError::Problem(Problem::conflict(
            "payment_not_yet_recorded",
            "the payment is not recorded yet; deliver again later",
        ))),
        None => Ok(None),
    }
}

async fn on_intent_update(
    conn: &mut AsyncPgConnection,
    state: &State,
    intent: &stripe::PaymentIntent,
) -> Result<Outcome, BillingError> {
    let Some(payment) = payment_for(conn, &intent.id, &intent.metadata).await? else {
        return Ok(Outcome::Ignored);
    };
    // The notification may be stale: act on the intent as Stripe has it now.
    let current = state.stripe.retrieve_payment_intent(&intent.id).await?;
    match current.status {
        stripe::PaymentIntentStatus::Succeeded => {
            if rules::on_succeeded(&payment.status) == Decision::Ignore {
                return Ok(Outcome::Ignored);
            }
            record_success(conn, state, &payment, &current).await?;
            Ok(Outcome::Applied)
        }
        status => {
            let name = rules::status_name(status);
            if rules::on_failed(&payment.status) == Decision::Ignore
                || payment.status == name && current.last_payment_error.is_none()
            {
                return Ok(Outcome::Ignored);
            }
            match &current.last_payment_error {
                Some(error) => {
                    record_failure(conn, &payment, &current, error).await?;
                }
                None => {
                    payments::set_status(conn, payment.id, name).await?;
                }
            }
            Ok(Outcome::Applied)
        }
    }
}

fn currency_of(p: &payments::Payment) -> Result<Currency, BillingError> {
    p.currency.trim().parse::<Currency>().map_err(|e| BillingError::Problem(Problem::internal(e)))
}

fn purpose_of(p: &payments::Payment) -> Result<PaymentPurpose, BillingError> {
    PaymentPurpose::parse(&p.purpose).ok_or_else(|| BillingError::Problem(Problem::internal("unknown purpose")))
}

/// Succeeded: receipt number, card details, history line, saved card for renewals, event.
pub async fn record_success(
    conn: &mut AsyncPgConnection,
    state: &State,
    payment: &payments::Payment,
    intent: &stripe::PaymentIntent,
) -> Result<(), BillingError> {
    let (brand, last4) = match &intent.latest_charge {
        Some(charge_id) => {
            let charge = state.stripe.retrieve_charge(charge_id).await?;
            let card = charge.payment_method_details.and_then(|d| d.card);
            (card.as_ref().map(|c| c.brand.clone()), card.map(|c| c.last4))
        }
        None => (None, None),
    };
    let now = Utc::now();
    let sequence = receipts::next_sequence(conn, now.year()).await?;
    let number = receipt_number(now.year(), sequence);
    let updated = payments::mark_succeeded(
        conn,
        payment.id,
        &payments::Success {
            charge_id: intent.latest_charge.as_deref(),
            card_brand: brand.as_deref(),
            card_last4: last4.as_deref(),
            receipt_number: &number,
            at: now,
        },
    )
    .await?;
    if let Some(method) = &intent.payment_method {
        customers::save_payment_method(conn, payment.user_id, method).await?;
    }
    crate::voids::on_payment_succeeded(conn, payment.id).await?;
    history::insert(
        conn,
        &history::NewLine {
            user_id: payment.user_id,
            payment_id: payment.id,
            refund_id: None,
            kind: "charge",
            amount: payment.amount,
            currency: payment.currency.trim(),
            description: &payment.description,
        },
    )
    .await?;
    let currency = currency_of(payment)?;
    events::outbox::enqueue(
        conn,
        &PaymentSucceeded {
            payment_id: payment.id,
            user_id: payment.user_id,
            amount: Money::round(payment.amount, currency),
            purpose: purpose_of(payment)?,
            reference_id: payment.reference_id.clone(),
            receipt_number: number,
            succeeded_at: updated.succeeded_at.unwrap_or(now),
        },
    )
    .await?;
    Ok(())
}

/// A failed attempt: status and reason stored, `billing.payment.failed.v1` announced. Returns the
/// updated payment, or `None` when a late failure arrives after success (ignored).
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    intent: &stripe::PaymentIntent,
    error: &stripe::LastPaymentError,
) -> Result<Option<payments::Payment>, BillingError> {
    if rules::on_failed(&payment.status) == Decision::Ignore {
        return Ok(None);
    }
    let code = error.decline_code.clone().or_else(|| error.code.clone());
    let updated = payments::mark_failed(
        conn,
        payment.id,
        rules::status_name(intent.status),
        code.as_deref(),
        error.message.as_deref(),
    )
    .await?;
    let currency = currency_of(payment)?;
    events::outbox::enqueue(
        conn,
        &PaymentFailed {
            payment_id: payment.id,
            user_id: payment.user_id,
            amount: Money::round(payment.amount, currency),
            purpose: purpose_of(payment)?,
            reference_id: payment.reference_id.clone(),
            failure_code: code,
            failure_message: error.message.clone(),
            failed_at: Utc::now(),
        },
    )
    .await?;
    Ok(Some(updated))
}

/// `charge.refunded` carries the charge's total refunded so far. Only growth is applied, so
/// duplicates and out-of-order deliveries never refund twice or go backwards.
async fn on_charge_refunded(
    conn: &mut AsyncPgConnection,
    state: &State,
    charge: &stripe::Charge,
) -> Result<Outcome, BillingError> {
    let Some(intent_id) = &charge.payment_intent else {
        return Ok(Outcome::Ignored);
    };
    let Some(mut payment) = payment_for(conn, intent_id, &charge.metadata).await? else {
        return Ok(Outcome::Ignored);
    };
    if payment.status != rules::SUCCEEDED {
        // The refund overtook the success notification: settle the payment first.
        let current = state.stripe.retrieve_payment_intent(intent_id).await?;
        if current.status != stripe::PaymentIntentStatus::Succeeded {
            return Ok(Outcome::Ignored);
        }
        record_success(conn, state, &payment, &current).await?;
        payment = payments::lock(conn, payment.id).await?.ok_or(BillingError::PaymentNotFound)?;
    }
    let currency = currency_of(&payment)?;
    let total = Money::from_minor_units(charge.amount_refunded, currency).amount.min(payment.amount);
    if total <= payment.amount_refunded {
        return Ok(Outcome::Ignored);
    }
    let delta = total - payment.amount_refunded;
    payments::set_amount_refunded(conn, payment.id, total).await?;
    events::outbox::enqueue(
        conn,
        &PaymentRefunded {
            payment_id: payment.id,
            user_id: payment.user_id,
            purpose: purpose_of(&payment)?,
            reference_id: payment.reference_id.clone(),
            amount: Money::round(payment.amount, currency),
            refunded_amount: Money::round(delta, currency),
            total_refunded: Money::round(total, currency),
            fully_refunded: total == payment.amount,
            refunded_at: Utc::now(),
        },
    )
    .await?;
    Ok(Outcome::Applied)
}
