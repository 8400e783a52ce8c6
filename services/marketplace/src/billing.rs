//! What marketplace asks billing, through the shared client ([`platform::internal::billing`]):
//! "take this payment for this purchase" and "cancel it now" (the expiry of an abandoned
//! purchase). The idempotency keys derive from the purchase id, so a retry after a timeout
//! reaches the same payment instead of creating a second one.

use crate::error::MarketError;
use crate::purchasing::Charged;
use events::catalog::billing::ChargeLine;
pub use platform::internal::billing::{BillingClient, Cancel, CancelOutcome, Payment};
use platform::internal::billing::{CanceledPayment, NewPayment};
use platform::internal::CallError;
use platform::money::Money;
use uuid::Uuid;

/// The billing idempotency key of a purchase: the same purchase always reaches the same payment.
pub fn idempotency_key(purchase_id: Uuid) -> String {
    format!("purchase-{purchase_id}")
}

pub async fn create_payment(
    client: &BillingClient,
    user_id: Uuid,
    amount: Money,
    purchase_id: Uuid,
    description: &str,
    lines: &[ChargeLine],
) -> Result<Payment, MarketError> {
    let payment = NewPayment {
        user_id,
        amount,
        purpose: "course_purchase",
        reference_id: purchase_id.to_string(),
        description,
        off_session: false,
        lines,
    };
    client.create_payment(&idempotency_key(purchase_id), &payment).await.map_err(refused)
}

/// Cancel the purchase's PaymentIntent now (expiry of an abandoned purchase), or learn that it
/// was paid after all. The key is the purchase's, so every expiry attempt of one purchase is one
/// request to billing. Billing answers 409 while Stripe is still deciding: an error here, and the
/// expiry tries again later.
pub async fn cancel_payment(
    client: &BillingClient,
    payment_id: Uuid,
    purchase_id: Uuid,
) -> Result<Cancel, MarketError> {
    let reason = crate::domain::purchase::PURCHASE_EXPIRED;
    client.cancel_payment(payment_id, &format!("expire-{purchase_id}"), reason).await.map_err(refused)
}

/// The charge of a payment taken apart as billing's events give it: net of tax, and the tax.
pub fn charged(payment: &CanceledPayment) -> Charged {
    let (net, tax) = payment.net_and_tax();
    Charged { net, tax }
}

/// A refusal is final (never retried) but, to a buyer, billing did not take the payment.
fn refused(e: CallError) -> MarketError {
    match e {
        CallError::Refused { status, problem } => {
            MarketError::BillingUnavailable(format!("billing refused: {status} {}", problem.code))
        }
        CallError::Unavailable(cause) => MarketError::BillingUnavailable(cause),
    }
}
