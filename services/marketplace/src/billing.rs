//! The internal calls to billing: "take this payment for this purchase" and "cancel it now" (the
//! expiry of an abandoned purchase). Retried only with the same idempotency key (derived from the
//! purchase id), so a retry after a timeout reaches the same payment instead of creating a second
//! one.

use crate::error::MarketError;
use events::catalog::billing::ChargeLine;
use platform::auth::InternalAuth;
use platform::internal::{CallError, InternalClient};
use platform::money::Money;
use serde::de::DeserializeOwned;
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
    /// Billing refuses lines that do not add up to `amount`; none: one line of `description`.
    #[serde(skip_serializing_if = "<[ChargeLine]>::is_empty")]
    lines: &'a [ChargeLine],
}

#[derive(Debug, Serialize)]
struct CancelPayment {
    reason: &'static str,
}

/// Where a canceled payment ended, as billing answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    /// The PaymentIntent is canceled: no money moved, none can.
    Canceled,
    /// Stripe refused the cancel: the customer paid.
    Succeeded,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cancel {
    pub outcome: CancelOutcome,
    pub payment: CanceledPayment,
}

/// What billing's payment says of the money: `amount` is what was charged, `tax` the part of it
/// that is tax (absent when untaxed).
#[derive(Debug, Clone, Deserialize)]
pub struct CanceledPayment {
    pub amount: Money,
    #[serde(default)]
    pub tax: Option<Money>,
}

impl CanceledPayment {
    /// The charge taken apart as billing's events give it: net of tax, and the tax.
    pub fn charged(&self) -> crate::purchasing::Charged {
        let tax = self.tax.unwrap_or(Money::zero(self.amount.currency));
        crate::purchasing::Charged { net: Money::round(self.amount.amount - tax.amount, self.amount.currency), tax }
    }
}

/// The part of billing's answer marketplace needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub client_secret: Option<String>,
}

impl BillingClient {
    pub fn new(base_url: &str, timeout: Duration, auth: InternalAuth) -> Result<Self, String> {
        Ok(Self { client: InternalClient::new(base_url, "billing", timeout, auth)? })
    }

    /// The billing idempotency key of a purchase: the same purchase always reaches the same payment.
    pub fn idempotency_key(purchase_id: Uuid) -> String {
        format!("purchase-{purchase_id}")
    }

    pub async fn create_payment(
        &self,
        user_id: Uuid,
        amount: Money,
        purchase_id: Uuid,
        description: &str,
        lines: &[ChargeLine],
    ) -> Result<Payment, MarketError> {
        let body = CreatePayment {
            user_id,
            amount,
            purpose: "course_purchase",
            reference_id: purchase_id.to_string(),
            description,
            lines,
        };
        self.post("/internal/payments", &Self::idempotency_key(purchase_id), &body).await
    }

    /// Cancel the purchase's PaymentIntent now (expiry of an abandoned purchase), or learn that it
    /// was paid after all. The key is the purchase's, so every expiry attempt of one purchase is
    /// one request to billing. Billing answers 409 while Stripe is still deciding: an error here,
    /// and the expiry tries again later.
    pub async fn cancel_payment(&self, payment_id: Uuid, purchase_id: Uuid) -> Result<Cancel, MarketError> {
        let body = CancelPayment { reason: crate::domain::purchase::PURCHASE_EXPIRED };
        self.post(&format!("/internal/payments/{payment_id}/cancel"), &format!("expire-{purchase_id}"), &body).await
    }

    /// POST with an idempotency key (retries in [`InternalClient::post`]): a refusal is final.
    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, key: &str, body: &B) -> Result<T, MarketError> {
        self.client.post(path, Some(key), body).await.map_err(|e| match e {
            CallError::Refused { status, problem } => {
                MarketError::BillingUnavailable(format!("billing refused: {status} {}", problem.code))
            }
            CallError::Unavailable(cause) => MarketError::BillingUnavailable(cause),
        })
    }
}
