//! What subscriptions asks billing, through the shared client ([`platform::internal::billing`]):
//! a charge's payment, under a key derived from the charge so a retry after a timeout reaches the
//! same payment, and whether a user has a saved card.

use crate::error::SubscriptionError;
use events::catalog::billing::ChargeLine;
use platform::internal::billing::NewPayment;
pub use platform::internal::billing::{BillingClient, Payment};
use platform::internal::CallError;
use platform::money::Money;
use uuid::Uuid;

/// Billing's answer within this time, or the call is retried (then unavailable).
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Ask billing for a payment of `amount` for charge `charge_id`. `off_session` charges the saved
/// card now. `lines`, when given, add up to `amount` (billing checks).
pub async fn create_payment(
    client: &BillingClient,
    user_id: Uuid,
    amount: Money,
    charge_id: Uuid,
    description: &str,
    off_session: bool,
    lines: &[ChargeLine],
) -> Result<Payment, SubscriptionError> {
    let payment = NewPayment {
        user_id,
        amount,
        purpose: "subscription",
        reference_id: charge_id.to_string(),
        description,
        off_session,
        lines,
    };
    client.create_payment(&format!("charge-{charge_id}"), &payment).await.map_err(|e| match e {
        // Billing refused (e.g. no saved card): final.
        CallError::Refused { problem, .. } => SubscriptionError::PaymentDeclined(problem.code),
        CallError::Unavailable(cause) => SubscriptionError::BillingUnavailable(cause),
    })
}

/// Whether the user has a saved default card at billing (a trial in `card_required` mode needs
/// one).
pub async fn has_default_card(client: &BillingClient, user_id: Uuid) -> Result<bool, SubscriptionError> {
    client.has_default_card(user_id).await.map_err(|e| match e {
        CallError::Refused { problem, .. } => SubscriptionError::BillingUnavailable(problem.code),
        CallError::Unavailable(cause) => SubscriptionError::BillingUnavailable(cause),
    })
}
