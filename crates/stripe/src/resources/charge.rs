use serde::Deserialize;

use super::{check_id, Metadata};
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
}
