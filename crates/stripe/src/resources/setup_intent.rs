use serde::Deserialize;

use super::{check_id, Metadata};
use crate::client::Client;
use crate::form::FormBody;
use crate::{IdempotencyKey, StripeError};

/// A SetupIntent: saves a card for later charges without charging it now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SetupIntent {
    /// `seti_...`
    pub id: String,
    pub status: SetupIntentStatus,
    #[serde(default)]
    pub customer: Option<String>,
    /// Handed to the client app to confirm the setup; never log it.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `pm_...` once the card is saved.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// `off_session` (the card may be charged without the customer) or `on_session`.
    #[serde(default)]
    pub usage: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
}

/// A SetupIntent's status: the machine PaymentIntents share.
pub type SetupIntentStatus = super::IntentStatus;

/// How the saved card may be used later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupUsage {
    /// Charged with the customer absent (renewals): what Stripe authenticates the card for.
    OffSession,
    OnSession,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSetupIntent {
    pub customer: String,
    pub usage: SetupUsage,
    pub metadata: Metadata,
}

impl CreateSetupIntent {
    pub(crate) fn to_form(&self) -> Result<FormBody, StripeError> {
        check_id("customer", &self.customer)?;
        let mut form = FormBody::new();
        let usage = match self.usage {
            SetupUsage::OffSession => "off_session",
            SetupUsage::OnSession => "on_session",
        };
        form.push("customer", &self.customer).push("usage", usage).push("payment_method_types[]", "card");
        form.push_metadata(&self.metadata)?;
        Ok(form)
    }
}

impl Client {
    /// `POST /v1/setup_intents`
    pub async fn create_setup_intent(
        &self,
        params: &CreateSetupIntent,
        idempotency_key: &IdempotencyKey,
    ) -> Result<SetupIntent, StripeError> {
        self.post("setup_intents", params.to_form()?, idempotency_key).await
    }

    /// `GET /v1/setup_intents/{id}`
    pub async fn retrieve_setup_intent(&self, id: &str) -> Result<SetupIntent, StripeError> {
        check_id("setup_intent", id)?;
        self.get(&format!("setup_intents/{id}")).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_an_off_session_card_setup() {
        let params = CreateSetupIntent {
            customer: "cus_1".into(),
            usage: SetupUsage::OffSession,
            metadata: [("user_id".to_string(), "u1".to_string())].into_iter().collect(),
        };
        assert_eq!(
            params.to_form().unwrap().encode(),
            "customer=cus_1&usage=off_session&payment_method_types[]=card&metadata[user_id]=u1"
        );
        let bad = CreateSetupIntent { customer: "cus_1/../x".into(), ..params };
        assert!(bad.to_form().is_err());
    }

    #[test]
    fn decodes_stripe_shape() {
        let si: SetupIntent = serde_json::from_value(serde_json::json!({
            "id": "seti_1", "object": "setup_intent", "status": "succeeded", "customer": "cus_1",
            "client_secret": "seti_1_secret_x", "payment_method": "pm_1", "usage": "off_session",
            "metadata": {}, "created": 1, "livemode": false, "next_action": null
        }))
        .unwrap();
        assert_eq!(si.status, SetupIntentStatus::Succeeded);
        assert_eq!(si.payment_method.as_deref(), Some("pm_1"));
    }
}
