use std::fmt;

use serde::Deserialize;

use super::{check_id, Metadata};
use crate::client::Client;
use crate::form::FormBody;
use crate::{IdempotencyKey, StripeError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    /// `pi_...`
    pub id: String,
    /// Minor units of `currency`.
    pub amount: i64,
    #[serde(default)]
    pub amount_received: i64,
    /// Lower-case ISO 4217, as Stripe returns it.
    pub currency: String,
    pub status: PaymentIntentStatus,
    #[serde(default)]
    pub customer: Option<String>,
    /// Handed to the client app to confirm the payment; never log it.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `ch_...` of the latest attempt (successful or not).
    #[serde(default)]
    pub latest_charge: Option<String>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub last_payment_error: Option<LastPaymentError>,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
}

/// A PaymentIntent's status: the machine SetupIntents share.
pub type PaymentIntentStatus = super::IntentStatus;

/// Why the latest payment attempt failed (`type`, `code`, `decline_code` as in Stripe's error object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastPaymentError {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    /// `ch_...` of the failed attempt.
    #[serde(default)]
    pub charge: Option<String>,
}

/// `POST /v1/payment_intents`. Build with struct update syntax:
/// `CreatePaymentIntent { amount: 999, currency: "usd".into(), ..Default::default() }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatePaymentIntent {
    /// Minor units; must be positive.
    pub amount: i64,
    /// ISO 4217; sent lower-case.
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    /// A saved payment method (`pm_...`), e.g. for a subscription renewal.
    pub payment_method: Option<String>,
    /// Confirm in the same call (renewals); otherwise the client app confirms with the client secret.
    pub confirm: bool,
    /// The customer is not present (renewals). Only meaningful with `confirm`; Stripe then fails instead of asking
    /// for authentication.
    pub off_session: bool,
}

impl CreatePaymentIntent {
    pub(crate) fn to_form(&self) -> Result<FormBody, StripeError> {
        if self.amount <= 0 {
            return Err(StripeError::InvalidArgument("amount must be positive".into()));
        }
        let currency = self.currency.to_ascii_lowercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(StripeError::InvalidArgument(format!("invalid currency {:?}", self.currency)));
        }
        if self.off_session && !self.confirm {
            return Err(StripeError::InvalidArgument("off_session requires confirm".into()));
        }
        if let Some(customer) = &self.customer {
            check_id("customer", customer)?;
        }
        let mut form = FormBody::new();
        form.push("amount", self.amount)
            .push("currency", currency)
            .push_opt("customer", self.customer.as_deref())
            .push_opt("description", self.description.as_deref())
            .push_opt("payment_method", self.payment_method.as_deref());
        if self.confirm {
            form.push("confirm", true);
        }
        if self.off_session {
            form.push("off_session", true);
        }
        form.push_metadata(&self.metadata)?;
        Ok(form)
    }
}

/// `POST /v1/payment_intents/{id}/confirm`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmPaymentIntent {
    pub payment_method: Option<String>,
    pub off_session: bool,
}

impl ConfirmPaymentIntent {
    fn to_form(&self) -> FormBody {
        let mut form = FormBody::new();
        form.push_opt("payment_method", self.payment_method.as_deref());
        if self.off_session {
            form.push("off_session", true);
        }
        form
    }
}

/// `POST /v1/payment_intents/{id}/cancel`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelPaymentIntent {
    pub cancellation_reason: Option<CancellationReason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
    Abandoned,
}

impl fmt::Display for CancellationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
            Self::RequestedByCustomer => "requested_by_customer",
            Self::Abandoned => "abandoned",
        })
    }
}

impl Client {
    /// `POST /v1/payment_intents`
    pub async fn create_payment_intent(
        &self,
        params: &CreatePaymentIntent,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        self.post("payment_intents", params.to_form()?, idempotency_key).await
    }

    /// `GET /v1/payment_intents/{id}`
    pub async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        check_id("payment_intent", id)?;
        self.get(&format!("payment_intents/{id}")).await
    }

    /// `POST /v1/payment_intents/{id}/confirm`. A decline comes back as `StripeError::Card` carrying the intent.
    pub async fn confirm_payment_intent(
        &self,
        id: &str,
        params: &ConfirmPaymentIntent,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        check_id("payment_intent", id)?;
        self.post(&format!("payment_intents/{id}/confirm"), params.to_form(), idempotency_key).await
    }

    /// `POST /v1/payment_intents/{id}/cancel`
    pub async fn cancel_payment_intent(
        &self,
        id: &str,
        params: &CancelPaymentIntent,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        check_id("payment_intent", id)?;
        let mut form = FormBody::new();
        form.push_opt("cancellation_reason", params.cancellation_reason);
        self.post(&format!("payment_intents/{id}/cancel"), form, idempotency_key).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn create_params_encode_like_stripe_expects() {
        let params = CreatePaymentIntent {
            amount: 999,
            currency: "USD".into(),
            customer: Some("cus_1".into()),
            metadata: [("payment_id".to_owned(), "p-1".to_owned())].into(),
            payment_method: Some("pm_card_visa".into()),
            confirm: true,
            off_session: true,
            ..Default::default()
        };
        assert_eq!(
            params.to_form().unwrap().encode(),
            "amount=999&currency=usd&customer=cus_1&payment_method=pm_card_visa&confirm=true&off_session=true\
             &metadata[payment_id]=p-1"
        );
    }

    #[test]
    fn create_params_are_checked_locally() {
        let ok = CreatePaymentIntent { amount: 1, currency: "eur".into(), ..Default::default() };
        assert!(ok.to_form().is_ok());
        assert!(CreatePaymentIntent { amount: 0, ..ok.clone() }.to_form().is_err());
        assert!(CreatePaymentIntent { currency: "euro".into(), ..ok.clone() }.to_form().is_err());
        assert!(CreatePaymentIntent { off_session: true, ..ok.clone() }.to_form().is_err());
        assert!(CreatePaymentIntent { customer: Some("cus/../x".into()), ..ok }.to_form().is_err());
    }

    #[test]
    fn decodes_stripe_shape_and_tolerates_new_statuses() {
        let pi: PaymentIntent = serde_json::from_str(
            r#"{"id":"pi_1","object":"payment_intent","amount":999,"amount_received":999,"currency":"usd",
            "status":"succeeded","customer":"cus_1","client_secret":"pi_1_secret_x","latest_charge":"ch_1",
            "payment_method":"pm_1","last_payment_error":null,"metadata":{"a":"b"},"created":1,"livemode":false,
            "unknown_field":{"nested":true}}"#,
        )
        .unwrap();
        assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
        assert_eq!(pi.latest_charge.as_deref(), Some("ch_1"));
        let status: PaymentIntentStatus = serde_json::from_str(r#""requires_something_new""#).unwrap();
        assert_eq!(status, PaymentIntentStatus::Unknown);
    }
}
