//! The client of billing's internal API, shared by the services that take payments (marketplace:
//! course purchases; subscriptions: charges): "take this payment", "cancel it now" (the expiry of
//! an abandoned purchase) and "does this user have a saved card". Every call that creates or
//! changes something carries the caller's idempotency key (derived from the caller's record: a
//! purchase, a charge), so a retry after a timeout reaches the same payment instead of creating a
//! second one. Each caller maps [`CallError`] to its own error (a refusal is final).

use super::{CallError, InternalClient};
use crate::auth::InternalAuth;
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct BillingClient {
    client: InternalClient,
}

/// A payment to ask billing for (`POST /internal/payments`).
#[derive(Debug, Serialize)]
pub struct NewPayment<'a, L: Serialize> {
    pub user_id: Uuid,
    pub amount: Money,
    /// Billing's payment purpose (`course_purchase`, `subscription`): who owns the payment.
    pub purpose: &'static str,
    /// The caller's id for what is paid (the purchase, the charge).
    pub reference_id: String,
    pub description: &'a str,
    /// Charge the saved card now, without the customer present (renewals); billing's default is
    /// false, so false is not sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub off_session: bool,
    /// What the amount is made of (plan, discount, course...), for receipts and invoices; billing
    /// refuses lines that do not add up to `amount`. None: one line of `description`. Generic
    /// because the line type is the events catalog's, which depends on this crate.
    #[serde(skip_serializing_if = "<[L]>::is_empty")]
    pub lines: &'a [L],
}

/// The part of billing's payment its callers need.
#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub client_secret: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
}

#[derive(Debug, Serialize)]
struct CancelPayment<'a> {
    reason: &'a str,
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
    /// The charge taken apart as billing's events give it: (net of tax, tax).
    pub fn net_and_tax(&self) -> (Money, Money) {
        let tax = self.tax.unwrap_or(Money::zero(self.amount.currency));
        (Money::round(self.amount.amount - tax.amount, self.amount.currency), tax)
    }
}

#[derive(Debug, Serialize)]
struct CardQuestion {
    user_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct CardAnswer {
    has_default_card: bool,
}

impl BillingClient {
    pub fn new(base_url: &str, timeout: Duration, auth: InternalAuth) -> Result<Self, String> {
        Ok(Self { client: InternalClient::new(base_url, "billing", timeout, auth)? })
    }

    /// Ask billing for `payment` under `idempotency_key`: the same key always reaches the same
    /// payment.
    pub async fn create_payment<L: Serialize>(
        &self,
        idempotency_key: &str,
        payment: &NewPayment<'_, L>,
    ) -> Result<Payment, CallError> {
        self.client.post("/internal/payments", Some(idempotency_key), payment).await
    }

    /// Cancel payment `payment_id`'s PaymentIntent now, or learn that it was paid after all.
    /// Billing answers 409 while Stripe is still deciding: a refusal here, asked again later
    /// with the same key.
    pub async fn cancel_payment(
        &self,
        payment_id: Uuid,
        idempotency_key: &str,
        reason: &str,
    ) -> Result<Cancel, CallError> {
        let path = format!("/internal/payments/{payment_id}/cancel");
        self.client.post(&path, Some(idempotency_key), &CancelPayment { reason }).await
    }

    /// Whether the user has a saved default card at billing. A read: retried freely.
    pub async fn has_default_card(&self, user_id: Uuid) -> Result<bool, CallError> {
        let answer: CardAnswer =
            self.client.post("/internal/customers/default-card", None, &CardQuestion { user_id }).await?;
        Ok(answer.has_default_card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use rust_decimal::Decimal;

    #[test]
    fn a_payment_sends_off_session_and_lines_only_when_there_are_some() {
        let amount = Money::new(Decimal::new(999, 2), Currency::USD).expect("money");
        let mut payment = NewPayment::<u8> {
            user_id: Uuid::nil(),
            amount,
            purpose: "course_purchase",
            reference_id: "p".into(),
            description: "A course",
            off_session: false,
            lines: &[],
        };
        let body = serde_json::to_value(&payment).expect("json");
        assert!(body.get("off_session").is_none() && body.get("lines").is_none(), "{body}");
        payment.off_session = true;
        payment.lines = &[1];
        let body = serde_json::to_value(&payment).expect("json");
        assert_eq!((&body["off_session"], &body["lines"]), (&serde_json::json!(true), &serde_json::json!([1])));
    }

    #[test]
    fn a_canceled_payment_splits_into_net_and_tax() {
        let usd = |minor| Money::from_minor_units(minor, Currency::USD);
        let taxed = CanceledPayment { amount: usd(1200), tax: Some(usd(200)) };
        assert_eq!(taxed.net_and_tax(), (usd(1000), usd(200)));
        let untaxed = CanceledPayment { amount: usd(1200), tax: None };
        assert_eq!(untaxed.net_and_tax(), (usd(1200), usd(0)));
    }
}
