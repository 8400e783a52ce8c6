//! The fake's stored objects, serialised in Stripe's JSON shapes (field names, `object` tags, unix timestamps).
//! Written independently of the `stripe` crate's structs so that the integration tests check one against the other.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub(crate) type Metadata = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Customer {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub metadata: Metadata,
    pub balance: i64,
    pub delinquent: bool,
    pub invoice_settings: InvoiceSettings,
    pub livemode: bool,
}

/// The status machine PaymentIntents and SetupIntents share (a SetupIntent never reaches
/// `processing` or `requires_capture` here; Stripe's enum for it just lacks the latter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::RequiresCapture => "requires_capture",
            Self::Canceled => "canceled",
            Self::Succeeded => "succeeded",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PaymentIntent {
    pub id: String,
    pub object: &'static str,
    pub amount: i64,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    pub capture_method: &'static str,
    pub client_secret: String,
    pub confirmation_method: &'static str,
    pub created: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub last_payment_error: Option<Value>,
    pub latest_charge: Option<String>,
    pub livemode: bool,
    pub metadata: Metadata,
    pub next_action: Option<Value>,
    pub payment_method: Option<String>,
    pub payment_method_types: Vec<&'static str>,
    pub status: IntentStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChargeStatus {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Charge {
    pub id: String,
    pub object: &'static str,
    pub amount: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub captured: bool,
    pub created: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub livemode: bool,
    pub metadata: Metadata,
    pub outcome: Value,
    pub paid: bool,
    pub payment_intent: String,
    pub payment_method: String,
    pub payment_method_details: Value,
    pub refunded: bool,
    pub status: ChargeStatus,
}

impl Charge {
    pub(crate) fn unrefunded(&self) -> i64 {
        self.amount - self.amount_refunded
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Refund {
    pub id: String,
    pub object: &'static str,
    pub amount: i64,
    pub charge: String,
    pub created: i64,
    pub currency: String,
    pub metadata: Metadata,
    pub payment_intent: String,
    pub reason: Option<String>,
    pub status: &'static str,
    /// Set when the refund failed (`lost_or_stolen_card`, `expired_or_canceled_card`, ...).
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Event {
    pub id: String,
    pub object: &'static str,
    pub api_version: &'static str,
    pub created: i64,
    pub data: EventData,
    pub livemode: bool,
    pub pending_webhooks: u32,
    pub request: EventRequest,
    #[serde(rename = "type")]
    pub type_: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventData {
    pub object: Value,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventRequest {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Serialises a stored object; these structs hold only strings, numbers and JSON values, so this cannot fail in
/// practice, and a null is a visible, harmless outcome if it ever did.
pub(crate) fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// `customer.invoice_settings`: only the default payment method is modelled.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct InvoiceSettings {
    pub default_payment_method: Option<String>,
}

/// A saved card. `token` (never serialised) is the test payment method it was made from, which
/// decides what charging it does.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PaymentMethod {
    pub id: String,
    pub object: &'static str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub card: Value,
    pub created: i64,
    pub customer: Option<String>,
    pub livemode: bool,
    pub metadata: Metadata,
    #[serde(skip)]
    pub token: String,
    /// Detached once: Stripe refuses to use or attach it again.
    #[serde(skip)]
    pub detached: bool,
    /// Creation order (several per second): lists are newest first.
    #[serde(skip)]
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SetupIntent {
    pub id: String,
    pub object: &'static str,
    pub cancellation_reason: Option<String>,
    pub client_secret: String,
    pub created: i64,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub last_setup_error: Option<Value>,
    pub livemode: bool,
    pub metadata: Metadata,
    pub next_action: Option<Value>,
    pub payment_method: Option<String>,
    pub payment_method_types: Vec<&'static str>,
    pub status: IntentStatus,
    pub usage: String,
}
