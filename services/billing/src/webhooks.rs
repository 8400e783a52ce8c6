//! Applying Stripe's notifications in two steps, so no transaction or pooled connection is held
//! while Stripe is asked:
//!
//! 1. [`fetch`]: what Stripe says NOW (the notification may be stale, out of order, or not from
//!    Stripe at all), read with no transaction: the PaymentIntent (and its charge, for the card on
//!    the receipt), or the charge with every refund made on it.
//! 2. [`apply`], inside the short transaction that records the Stripe event id (so a duplicate
//!    delivery is a no-op and a failure leaves nothing half-applied; Stripe retries): the payment
//!    is locked and the fetched truth applied. Two notifications fetched concurrently are applied
//!    one after the other under that lock, and every rule only moves forward, so the older fetch
//!    changes nothing the newer one settled.

use crate::domain::invoice::INVOICE_SERIES;
use crate::domain::payment::{self as rules, Decision};
use crate::domain::reconcile::intent_is_news;
use crate::domain::refund as refund_rules;
use crate::error::BillingError;
use crate::invoicing::to_json;
use crate::store::{customers, history, outcomes, payments, receipts, refunds};
use crate::State;
use chrono::{DateTime, Datelike, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{PaymentFailed, PaymentPurpose, PaymentRefunded, RefundReason};
use platform::money::{Currency, Money};
use platform::Problem;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Ignored,
    /// Stripe's facts disagree with our record: not applied, flagged and alerted. Answered 200 so
    /// Stripe does not retry a notification that can never apply.
    Refused,
}

/// What Stripe says now, fetched before the transaction. `origin` is the trace of the request that
/// created the payment, which its settlement continues ([`settle_span`]).
pub enum Facts {
    /// Not ours, or nothing to do.
    Nothing,
    Intent {
        intent: stripe::PaymentIntent,
        charge: Option<stripe::Charge>,
        origin: Option<String>,
    },
    /// A charge with its refunds; the intent too when the payment is not recorded as succeeded
    /// yet (the refund overtook the success notification).
    Refunds {
        charge: stripe::Charge,
        intent: Option<stripe::PaymentIntent>,
    },
    /// A card saved through a SetupIntent of ours (`crate::methods`).
    Setup(crate::methods::SavedCard),
}

impl Facts {
    fn origin(&self) -> Option<&str> {
        match self {
            Facts::Intent { origin, .. } => origin.as_deref(),
            // A refund is its own action, days later: it stays in the trace that delivered it.
            Facts::Nothing | Facts::Refunds { .. } | Facts::Setup(_) => None,
        }
    }
}

/// The span to apply `facts` in. Stripe notifies outside any trace of ours, so the span continues
/// the trace of the request that created the payment (the purchase or subscription that asked for
/// it): the events it emits, and their consumers, stay in that one trace. It links to the span
/// that delivered the facts (the webhook request, a reconcile tick), whose trace it leaves.
pub fn settle_span(facts: &Facts, cause: &'static str) -> tracing::Span {
    use platform::telemetry::{link_to, set_parent_from, TraceContext};
    let span = tracing::info_span!("billing.payment.settle", cause);
    if let Some(origin) = facts.origin() {
        link_to(&span, &TraceContext::current());
        set_parent_from(&span, &TraceContext::new(Some(origin), None));
    }
    span
}

fn invalid(e: stripe::WebhookError) -> BillingError {
    BillingError::InvalidWebhook(e.to_string())
}

/// Step 1: read our payment (a connection borrowed and returned at once), then ask Stripe.
pub async fn fetch(state: &State, event: &stripe::Event) -> Result<Facts, BillingError> {
    use stripe::EventType as T;
    match event.kind() {
        // Every intent notification is handled alike: the intent is re-fetched and its current status applied.
        T::PaymentIntentSucceeded | T::PaymentIntentPaymentFailed | T::PaymentIntentCanceled => {
            let notified = event.payment_intent().map_err(invalid)?;
            let Some(payment) = known_payment(state, &notified.id, &notified.metadata).await? else {
                return Ok(Facts::Nothing);
            };
            intent_facts(state, &payment).await
        }
        T::ChargeRefunded | T::ChargeRefundUpdated | T::RefundCreated | T::RefundUpdated | T::RefundFailed => {
            let charge_id = match event.data.object.get("object").and_then(|v| v.as_str()) {
                Some("charge") => Some(event.charge().map_err(invalid)?.id),
                _ => event.refund().map_err(invalid)?.charge,
            };
            let Some(charge_id) = charge_id else {
                return Ok(Facts::Nothing);
            };
            let charge = state.stripe.retrieve_charge_with_refunds(&charge_id).await?;
            let Some(intent_id) = charge.payment_intent.clone() else {
                return Ok(Facts::Nothing);
            };
            let Some(payment) = known_payment(state, &intent_id, &charge.metadata).await? else {
                return Ok(Facts::Nothing);
            };
            with_intent_if_unsettled(state, &payment, charge).await
        }
        T::SetupIntentSucceeded => {
            let notified = event.setup_intent().map_err(invalid)?;
            Ok(crate::methods::fetch_setup(state, &notified).await?.map_or(Facts::Nothing, Facts::Setup))
        }
        T::Other(kind) => {
            tracing::debug!(%kind, "ignoring Stripe event type");
            Ok(Facts::Nothing)
        }
    }
}

/// What Stripe says now about `payment`'s PaymentIntent (with its charge, for the receipt, when it
/// succeeded and our record does not say so yet). The webhook path and the reconcile job both
/// read it here, so both apply the same facts through [`apply`].
pub async fn intent_facts(state: &State, payment: &payments::Payment) -> Result<Facts, BillingError> {
    let intent = state.stripe.retrieve_payment_intent(&payment.stripe_payment_intent_id).await?;
    let charge = match (&intent.latest_charge, intent.status) {
        (Some(id), stripe::PaymentIntentStatus::Succeeded) if payment.status != rules::SUCCEEDED => {
            Some(state.stripe.retrieve_charge(id).await?)
        }
        _ => None,
    };
    Ok(Facts::Intent { intent, charge, origin: payment.traceparent.clone() })
}

/// What Stripe says now about the refunds on `payment`'s charge (`Facts::Nothing` when the intent
/// has no charge yet). For the reconcile job; a refund notification names its charge itself.
pub async fn refund_facts(state: &State, payment: &payments::Payment) -> Result<Facts, BillingError> {
    let charge_id = match &payment.latest_charge_id {
        Some(id) => id.clone(),
        None => match state.stripe.retrieve_payment_intent(&payment.stripe_payment_intent_id).await?.latest_charge {
            Some(id) => id,
            None => return Ok(Facts::Nothing),
        },
    };
    let charge = state.stripe.retrieve_charge_with_refunds(&charge_id).await?;
    with_intent_if_unsettled(state, payment, charge).await
}

/// A charge's refunds, with the intent too when the payment is not recorded as succeeded yet (the
/// refund overtook the success).
async fn with_intent_if_unsettled(
    state: &State,
    payment: &payments::Payment,
    charge: stripe::Charge,
) -> Result<Facts, BillingError> {
    let intent = if payment.status == rules::SUCCEEDED {
        None
    } else {
        Some(state.stripe.retrieve_payment_intent(&payment.stripe_payment_intent_id).await?)
    };
    Ok(Facts::Refunds { charge, intent })
}

/// Our payment for `intent_id`, read without a lock. `None` for intents this platform never
/// created. An intent of ours that is not committed yet (the notification raced our own
/// transaction) is an error, so Stripe delivers it again later.
async fn known_payment(
    state: &State,
    intent_id: &str,
    metadata: &stripe::Metadata,
) -> Result<Option<payments::Payment>, BillingError> {
    let found = {
        let mut conn = state.pool.get().await?;
        payments::find_by_intent(&mut conn, intent_id).await?
    };
    match found {
        Some(p) => Ok(Some(p)),
        None if metadata.contains_key("payment_id") => Err(not_yet_recorded("payment")),
        None => Ok(None),
    }
}

fn not_yet_recorded(what: &str) -> BillingError {
    BillingError::Problem(Problem::conflict(
        &format!("{what}_not_yet_recorded"),
        format!("the {what} is not recorded yet; deliver again later"),
    ))
}

/// Step 2, inside the transaction that recorded the event id.
/// `now` is the service clock's time: what the payment's success, failure or refund is dated.
pub async fn apply(conn: &mut AsyncPgConnection, facts: &Facts, now: DateTime<Utc>) -> Result<Outcome, BillingError> {
    match facts {
        Facts::Nothing => Ok(Outcome::Ignored),
        Facts::Intent { intent, charge, .. } => on_intent_update(conn, intent, charge.as_ref(), now).await,
        Facts::Refunds { charge, intent } => on_refunds(conn, charge, intent.as_ref(), now).await,
        Facts::Setup(saved) => Ok(match crate::methods::record_setup(conn, saved, now).await? {
            true => Outcome::Applied,
            false => Outcome::Ignored,
        }),
    }
}

/// The payment for `intent_id`, locked.
async fn locked_payment(conn: &mut AsyncPgConnection, intent_id: &str) -> Result<payments::Payment, BillingError> {
    payments::lock_by_intent(conn, intent_id).await?.ok_or(BillingError::PaymentNotFound)
}

async fn on_intent_update(
    conn: &mut AsyncPgConnection,
    current: &stripe::PaymentIntent,
    charge: Option<&stripe::Charge>,
    now: DateTime<Utc>,
) -> Result<Outcome, BillingError> {
    let payment = locked_payment(conn, &current.id).await?;
    match current.status {
        stripe::PaymentIntentStatus::Succeeded => {
            if rules::on_succeeded(&payment.status) == Decision::Ignore {
                return Ok(Outcome::Ignored);
            }
            if !received_as_asked(conn, &payment, current).await? {
                return Ok(Outcome::Refused);
            }
            record_success(conn, &payment, current, charge, now).await?;
            Ok(Outcome::Applied)
        }
        status => {
            let name = rules::status_name(status);
            let error = current.last_payment_error.as_ref();
            let code = error.and_then(|e| e.decline_code.as_deref().or(e.code.as_deref()));
            // A failure already recorded is not announced again: the reconcile job and a webhook
            // arriving after it read the same decline (see `domain::reconcile`).
            if rules::on_failed(&payment.status) == Decision::Ignore
                || !intent_is_news(&payment.status, payment.failure_code.as_deref(), status, code)
            {
                return Ok(Outcome::Ignored);
            }
            match &current.last_payment_error {
                Some(error) => {
                    record_failure(conn, &payment, current, error, now).await?;
                }
                None => {
                    payments::set_status(conn, payment.id, name).await?;
                }
            }
            Ok(Outcome::Applied)
        }
    }
}

/// Checks a succeeded intent against our record. On a mismatch the payment keeps its status, is
/// flagged `amount_mismatch` and an ERROR is logged with a stable message for alerting.
async fn received_as_asked(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    intent: &stripe::PaymentIntent,
) -> Result<bool, BillingError> {
    let currency = currency_of(payment)?;
    let expected = Money::new(payment.amount, currency).and_then(|m| m.to_minor_units()).map_err(Problem::from)?;
    if rules::received_matches(expected, currency.code(), intent.amount_received, &intent.currency) {
        return Ok(true);
    }
    let detail = format!(
        "Stripe received {} {} (minor units) for intent {}; the payment is {} {}",
        intent.amount_received,
        intent.currency,
        intent.id,
        payment.amount,
        payment.currency.trim()
    );
    tracing::error!(
        alert = "billing_payment_amount_mismatch",
        payment_id = %payment.id,
        intent_id = %intent.id,
        expected_minor = expected,
        received_minor = intent.amount_received,
        received_currency = %intent.currency,
        "payment amount mismatch: refusing to mark the payment succeeded"
    );
    payments::flag_for_review(conn, payment.id, "amount_mismatch", &detail).await?;
    Ok(false)
}

fn currency_of(p: &payments::Payment) -> Result<Currency, BillingError> {
    p.currency.trim().parse::<Currency>().map_err(|e| BillingError::Problem(Problem::internal(e)))
}

/// The `tax` of an event: absent when none applied.
fn tax_of(tax: rust_decimal::Decimal, currency: Currency) -> Option<Money> {
    (!tax.is_zero()).then(|| Money::round(tax, currency))
}

fn purpose_of(p: &payments::Payment) -> Result<PaymentPurpose, BillingError> {
    PaymentPurpose::parse(&p.purpose).ok_or_else(|| BillingError::Problem(Problem::internal("unknown purpose")))
}

/// Succeeded: card details (from the charge fetched in step 1), saved card for renewals, history
/// line, then the receipt and invoice numbers, the payment marked, the invoice, the event.
///
/// The numbers come last on purpose: their counter rows stay locked until the transaction commits
/// (gap-free numbering), so every success waits for the previous one's commit; everything that does
/// not need a number is written before they are taken (`receipts::next_sequences`).
pub async fn record_success(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    intent: &stripe::PaymentIntent,
    charge: Option<&stripe::Charge>,
    now: DateTime<Utc>,
) -> Result<(), BillingError> {
    let card = charge.and_then(|c| c.payment_method_details.as_ref()).and_then(|d| d.card.as_ref());
    let (brand, last4) = (card.map(|c| c.brand.clone()), card.map(|c| c.last4.clone()));
    outcomes::attempt(conn, payment, outcomes::SUCCEEDED, None, now).await?;
    if let Some(method) = &intent.payment_method {
        // The card of the last successful payment is what renewals charge, and it is listed
        // with the customer's saved cards (no row when the customer was erased meanwhile).
        let saved = customers::save_payment_method(conn, payment.user_id, Some(method)).await?;
        if let (1, Some(card)) = (saved, card) {
            crate::store::payment_methods::remember(
                conn,
                &crate::store::payment_methods::NewMethod {
                    user_id: payment.user_id,
                    stripe_payment_method_id: method,
                    brand: &card.brand,
                    last4: &card.last4,
                    exp_month: card.exp_month.and_then(|m| i32::try_from(m).ok()),
                    exp_year: card.exp_year.and_then(|y| i32::try_from(y).ok()),
                    at: now,
                },
            )
            .await?;
        }
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
    let purpose = purpose_of(payment)?;
    let (invoice, split) = crate::invoicing::draft_invoice(payment, now).map_err(BillingError::Problem)?;
    let event = events::catalog::billing::PaymentSucceeded {
        payment_id: payment.id,
        user_id: payment.user_id,
        amount: Money::round(payment.net_amount(), currency),
        tax: tax_of(payment.tax_amount, currency),
        purpose,
        reference_id: payment.reference_id.clone(),
        // Set by the statement that takes the number.
        receipt_number: String::new(),
        succeeded_at: now,
    };
    let envelope = to_json(&events::outbox::cloud_event(&event)?)?;
    // The numbers last, and in the statement that writes them: from here to the commit the
    // receipt and invoice counters are held.
    let receipt = receipts::record_numbered_success(
        conn,
        receipts::NumberedSuccess {
            payment_id: payment.id,
            year: now.year(),
            invoice_series: INVOICE_SERIES,
            charge_id: intent.latest_charge.as_deref(),
            card_brand: brand.as_deref(),
            card_last4: last4.as_deref(),
            at: now,
            invoice_id: invoice.id,
            subtotal: split.net,
            tax_amount: split.tax,
            total: split.total,
            document: to_json(&invoice)?,
            envelope,
        },
    )
    .await?;
    tracing::debug!(payment_id = %payment.id, %receipt, "payment succeeded");
    Ok(())
}

/// A failed attempt: status and reason stored, `billing.payment.failed.v1` announced. Returns the
/// updated payment, or `None` when a late failure arrives after success (ignored).
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    intent: &stripe::PaymentIntent,
    error: &stripe::LastPaymentError,
    now: DateTime<Utc>,
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
    outcomes::attempt(conn, payment, outcomes::FAILED, code.as_deref(), now).await?;
    let currency = currency_of(payment)?;
    events::outbox::enqueue(
        conn,
        &PaymentFailed {
            payment_id: payment.id,
            user_id: payment.user_id,
            amount: Money::round(payment.net_amount(), currency),
            tax: tax_of(payment.tax_amount, currency),
            purpose: purpose_of(payment)?,
            reference_id: payment.reference_id.clone(),
            failure_code: code,
            failure_message: error.message.clone(),
            failed_at: now,
        },
    )
    .await?;
    Ok(Some(updated))
}

/// A refund notification: the charge's refunds, as Stripe has them now, reconciled one by one
/// (oldest first) with our refund rows.
async fn on_refunds(
    conn: &mut AsyncPgConnection,
    charge: &stripe::Charge,
    intent: Option<&stripe::PaymentIntent>,
    now: DateTime<Utc>,
) -> Result<Outcome, BillingError> {
    let Some(intent_id) = &charge.payment_intent else {
        return Ok(Outcome::Ignored);
    };
    let mut payment = locked_payment(conn, intent_id).await?;
    let mut outcome = Outcome::Ignored;
    if payment.status != rules::SUCCEEDED {
        // The refund overtook the success notification: settle the payment first.
        let Some(current) = intent.filter(|i| i.status == stripe::PaymentIntentStatus::Succeeded) else {
            return Ok(Outcome::Ignored);
        };
        if !received_as_asked(conn, &payment, current).await? {
            return Ok(Outcome::Refused);
        }
        record_success(conn, &payment, current, Some(charge), now).await?;
        payment = payments::lock(conn, payment.id).await?.ok_or(BillingError::PaymentNotFound)?;
        outcome = Outcome::Applied;
    }
    let Some(list) = &charge.refunds else {
        return Err(Problem::internal("the charge was fetched without its refunds").into());
    };
    if list.has_more {
        tracing::warn!(charge = %charge.id, "more refunds on one charge than Stripe lists at once; the rest wait for their own notification");
    }
    let mut stripe_refunds: Vec<&stripe::Refund> = list.data.iter().collect();
    stripe_refunds.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    for refund in stripe_refunds {
        if reconcile(conn, &payment, refund, now).await? {
            outcome = Outcome::Applied;
        }
    }
    Ok(outcome)
}

/// One Stripe refund against our rows. Returns whether anything changed.
async fn reconcile(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    refund: &stripe::Refund,
    now: DateTime<Utc>,
) -> Result<bool, BillingError> {
    let (row, mut changed) = match our_row(conn, payment, refund).await? {
        Some(row) => (row, false),
        None => (record_dashboard_refund(conn, payment, refund).await?, true),
    };
    let reported = rules::refund_status_name(refund.status);
    let status = refund_rules::next_refund_status(&row.status, reported);
    if row.stripe_refund_id.is_none() || status.is_some() {
        let status = status.unwrap_or(row.status.as_str());
        refunds::record_stripe_state(conn, row.id, &refund.id, status, refund.failure_reason.as_deref()).await?;
        changed = true;
    }
    let status = status.unwrap_or(row.status.as_str());
    match (status, row.announced) {
        ("succeeded", false) => {
            announce(conn, payment, &row, now).await?;
            changed = true;
        }
        ("failed" | "canceled", true) => {
            // It was announced as refunded, and the money did not go back after all.
            refunds::set_announced(conn, row.id, false).await?;
            let total = refunds::total_announced(conn, payment.id).await?;
            payments::set_amount_refunded(conn, payment.id, total).await?;
            let currency = currency_of(payment)?;
            let net = crate::domain::tax::net_of_refunded(row.amount, payment.net_amount(), payment.amount, currency);
            outcomes::refund(conn, payment, outcomes::REFUND_REVERSED, net, now).await?;
            tracing::error!(
                alert = "billing_refund_failed_after_success",
                payment_id = %payment.id, refund_id = %row.id, stripe_refund = %refund.id,
                failure_reason = refund.failure_reason.as_deref().unwrap_or("unknown"),
                "refund failed after it succeeded: the buyer did not get the money back"
            );
            changed = true;
        }
        ("failed" | "canceled", false) if status != row.status => {
            tracing::warn!(
                payment_id = %payment.id, refund_id = %row.id, stripe_refund = %refund.id,
                failure_reason = refund.failure_reason.as_deref().unwrap_or("unknown"),
                "refund failed; it no longer counts against the payment"
            );
        }
        _ => {}
    }
    Ok(changed)
}

/// Our row for a Stripe refund: by its Stripe id, else by the `refund_id` our API put in its
/// metadata (a reservation whose Stripe answer was not recorded yet). A refund carrying our
/// metadata with no row yet is ours and not committed: deliver again later.
async fn our_row(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    refund: &stripe::Refund,
) -> Result<Option<refunds::Refund>, BillingError> {
    if let Some(row) = refunds::find_by_stripe_id(conn, &refund.id).await? {
        return Ok(Some(row));
    }
    let Some(ours) = refund.metadata.get("refund_id") else {
        return Ok(None);
    };
    let id = uuid::Uuid::parse_str(ours).map_err(|_| not_yet_recorded("refund"))?;
    match refunds::find(conn, id).await? {
        Some(row) if row.payment_id == payment.id => Ok(Some(row)),
        Some(_) => Err(Problem::internal(format!("refund {id} belongs to another payment")).into()),
        None => Err(not_yet_recorded("refund")),
    }
}

/// A refund made outside our API (Stripe's dashboard): recorded, so what is left to refund here
/// shrinks, and shown in the buyer's history.
async fn record_dashboard_refund(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    refund: &stripe::Refund,
) -> Result<refunds::Refund, BillingError> {
    let currency = currency_of(payment)?;
    let amount = Money::from_minor_units(refund.amount, currency).amount;
    let reason =
        refund_rules::reason_of_stripe_refund(refund.reason, refund.metadata.get("reason").map(String::as_str));
    let id = uuid::Uuid::now_v7();
    let row = refunds::insert(
        conn,
        &refunds::NewRefund {
            id,
            payment_id: payment.id,
            amount,
            currency: payment.currency.trim(),
            reason: reason.as_str(),
            status: rules::refund_status_name(refund.status),
            stripe_refund_id: &refund.id,
            requested_by: refund_rules::REQUESTED_BY_STRIPE,
        },
    )
    .await?;
    history::insert_refund(conn, payment, id, amount, "Refund").await?;
    tracing::info!(payment_id = %payment.id, stripe_refund = %refund.id, %amount, "recorded a refund made in Stripe's dashboard");
    Ok(row)
}

/// A refund Stripe confirmed: counted once in `amount_refunded`, and announced once with why and
/// by whom, so consumers know whether it ends the buyer's access.
async fn announce(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    row: &refunds::Refund,
    now: DateTime<Utc>,
) -> Result<(), BillingError> {
    refunds::set_announced(conn, row.id, true).await?;
    // Consumers count revenue: the refund is announced (and reported) net of tax, its tax part
    // beside it, and a credit note records both.
    let part = crate::invoicing::refund_split(conn, payment, row).await?;
    outcomes::refund(conn, payment, outcomes::REFUNDED, part.net, now).await?;
    let total = refunds::total_announced(conn, payment.id).await?.min(payment.amount);
    payments::set_amount_refunded(conn, payment.id, total).await?;
    let currency = currency_of(payment)?;
    let reason = RefundReason::parse(&row.reason)
        .ok_or_else(|| BillingError::Problem(Problem::internal(format!("unknown refund reason {}", row.reason))))?;
    let fully_refunded = total >= payment.amount;
    let net_total = crate::domain::tax::net_of_refunded(total, payment.net_amount(), payment.amount, currency);
    crate::invoicing::issue_credit_note(conn, payment, row, part, now).await?;
    events::outbox::enqueue(
        conn,
        &PaymentRefunded {
            payment_id: payment.id,
            user_id: payment.user_id,
            purpose: purpose_of(payment)?,
            reference_id: payment.reference_id.clone(),
            amount: Money::round(payment.net_amount(), currency),
            refunded_amount: Money::round(part.net, currency),
            total_refunded: Money::round(net_total, currency),
            tax: tax_of(part.tax, currency),
            fully_refunded,
            refunded_at: now,
            reason,
            initiated_by: refund_rules::initiated_by(Some(&row.requested_by), payment.user_id),
            ends_access: refund_rules::ends_access(reason, fully_refunded),
        },
    )
    .await?;
    Ok(())
}
