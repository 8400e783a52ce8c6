use serde::Deserialize;

use super::{check_id, Metadata, Refund};
use crate::client::Client;
use crate::StripeError;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Charge {
    /// `ch_...`
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_captured: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub payment_method_details: Option<PaymentMethodDetails>,
    pub status: ChargeStatus,
    #[serde(default)]
    pub paid: bool,
    #[serde(default)]
    pub captured: bool,
    /// True once `amount_refunded == amount`.
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_message: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    /// The charge's refunds. Stripe sends them only when asked (`expand[]=refunds`, see
    /// [`Client::retrieve_charge_with_refunds`]), so `None` means "not asked", not "none".
    #[serde(default)]
    pub refunds: Option<RefundList>,
}

/// Stripe's list object: `{"object": "list", "data": [...], "has_more": false}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundList {
    #[serde(default)]
    pub data: Vec<Refund>,
    /// More than the first page exist (over 10 refunds on one charge): list them with
    /// `GET /v1/refunds?charge=...` then. Billing's charges never come close.
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Succeeded,
    Pending,
    Failed,
    /// A status added by a newer API version; treat as "not settled".
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethodDetails {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub card: Option<CardDetails>,
}

/// What a receipt may show about the card: never the full number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CardDetails {
    pub brand: String,
    pub last4: String,
    #[serde(default)]
    pub exp_month: Option<u32>,
    #[serde(default)]
    pub exp_year: Option<u32>,
    #[serde(default)]
    pub funding: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

impl Client {
    /// `GET /v1/charges/{id}`: how much of a payment is already refunded, and the card shown on the receipt.
    pub async fn retrieve_charge(&self, id: &str) -> Result<Charge, StripeError> {
        check_id("charge", id)?;
        self.get(&format!("charges/{id}")).await
    }

    /// `GET /v1/charges/{id}?expand[]=refunds`: the charge with every refund made on it, ours and
    /// those made in Stripe's dashboard, each with its current status.
    pub async fn retrieve_charge_with_refunds(&self, id: &str) -> Result<Charge, StripeError> {
        check_id("charge", id)?;
        self.get(&format!("charges/{id}?expand%5B%5D=refunds")).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_an_expanded_refund_list() {
        let charge: Charge = serde_json::from_str(
            r#"{"id":"ch_1","object":"charge","amount":2000,"amount_refunded":500,"currency":"usd",
            "status":"succeeded","refunds":{"object":"list","has_more":false,"url":"/v1/charges/ch_1/refunds",
            "data":[{"id":"re_1","object":"refund","amount":500,"currency":"usd","status":"succeeded",
            "charge":"ch_1","reason":null,"metadata":{}}]}}"#,
        )
        .unwrap();
        let refunds = charge.refunds.unwrap();
        assert_eq!(refunds.data.len(), 1);
        assert_eq!(refunds.data[0].id, "re_1");
        let bare: Charge =
            serde_json::from_str(r#"{"id":"ch_1","amount":2000,"currency":"usd","status":"succeeded"}"#).unwrap();
        assert!(bare.refunds.is_none());
    }
}
