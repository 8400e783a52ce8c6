//! The internal call to billing: "take this payment". Retried only with the same idempotency key,
//! so a retry after a timeout reaches the same payment.

use crate::error::SubscriptionError;
use events::catalog::billing::ChargeLine;
use platform::auth::InternalAuth;
use platform::internal::{CallError, InternalClient};
use platform::money::Money;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct BillingClient {
    client: InternalClient,
}

#[derive(Debug, Serialize)]
struct CreatePayment<'a> {
    user_id: Uuid,
    amount: Money,
    purpose: &'static str,
    reference_id: String,
    description: &'a str,
    off_session: bool,
    /// What the amount is made of (plan, discount), for receipts and invoices; none for upgrades.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    lines: &'a [ChargeLine],
}

#[derive(Debug, Serialize)]
struct CardQuestion {
    user_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct CardAnswer {
    has_default_card: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub client_secret: Option<String>,
    pub failure_code: Option<String>,
}

impl BillingClient {
    pub fn new(base_url: &str, auth: InternalAuth) -> Result<Self, String> {
        Ok(Self { client: InternalClient::new(base_url, "billing", Duration::from_secs(15), auth)? })
    }

    /// Ask billing for a payment of `amount` for charge `charge_id`. `off_session` charges the saved
    /// card now. `lines`, when given, add up to `amount` (billing checks).
    pub async fn create_payment(
        &self,
        user_id: Uuid,
        amount: Money,
        charge_id: Uuid,
        description: &str,
        off_session: bool,
        lines: &[ChargeLine],
    ) -> Result<Payment, SubscriptionError> {
        let body = CreatePayment {
            user_id,
            amount,
            purpose: "subscription",
            reference_id: charge_id.to_string(),
            description,
            off_session,
            lines,
        };
        let key = format!("charge-{charge_id}");
        self.client.post("/internal/payments", Some(&key), &body).await.map_err(|e| match e {
            // Billing refused (e.g. no saved card): final.
            CallError::Refused { problem, .. } => SubscriptionError::PaymentDeclined(problem.code),
            CallError::Unavailable(cause) => SubscriptionError::BillingUnavailable(cause),
        })
    }

    /// Whether the user has a saved default card at billing (a trial in `card_required` mode
    /// needs one). A read: retried freely.
    pub async fn has_default_card(&self, user_id: Uuid) -> Result<bool, SubscriptionError> {
        let answer: CardAnswer =
            self.client.post("/internal/customers/default-card", None, &CardQuestion { user_id }).await.map_err(
                |e| match e {
                    CallError::Refused { problem, .. } => SubscriptionError::BillingUnavailable(problem.code),
                    CallError::Unavailable(cause) => SubscriptionError::BillingUnavailable(cause),
                },
            )?;
        Ok(answer.has_default_card)
    }
}
