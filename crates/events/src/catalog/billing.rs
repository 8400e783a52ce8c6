//! Events published by billing.

use super::DomainEvent;
use chrono::{DateTime, Utc};
use platform::money::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TYPES: &[&str] =
    &[PaymentSucceeded::TYPE, PaymentFailed::TYPE, PaymentRefunded::TYPE, PaymentMethodDefaultChanged::TYPE];

/// What a payment pays for; consumers route on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentPurpose {
    CoursePurchase,
    Subscription,
    License,
}

impl PaymentPurpose {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::CoursePurchase => "course_purchase",
            Self::Subscription => "subscription",
            Self::License => "license",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "course_purchase" => Some(Self::CoursePurchase),
            "subscription" => Some(Self::Subscription),
            "license" => Some(Self::License),
            _ => None,
        }
    }
}

/// The `purpose` a payment event (succeeded, failed, refunded) names, read from the envelope
/// without decoding the rest; `None` for any other event, or one without a readable purpose.
/// Consumers route on it in `EventHandler::concerns`: a payment for another purpose is not theirs.
pub fn payment_purpose(event: &crate::CloudEvent) -> Option<&str> {
    let payment_event =
        [PaymentSucceeded::TYPE, PaymentFailed::TYPE, PaymentRefunded::TYPE].contains(&event.event_type.as_str());
    payment_event.then(|| event.data.get("purpose").and_then(|p| p.as_str())).flatten()
}

/// What kind of thing one line of a payment is. Lines are what invoices and receipts print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A subscription period of a tier.
    Plan,
    /// Unused time of the old tier given back at an upgrade (negative).
    ProrationCredit,
    /// The new tier's remaining time charged at an upgrade.
    ProrationCharge,
    /// A coupon or promotion code (negative).
    Discount,
    /// A course bought in the marketplace.
    Course,
    /// Enterprise license seats.
    Seats,
}

/// One line of what a payment pays for, before tax, in the payment's currency. Credits and
/// discounts are negative; when a caller sends lines, they add up exactly to the payment's amount
/// (billing refuses them otherwise). Tax is billing's to add, never a caller's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeLine {
    pub kind: LineKind,
    pub description: String,
    pub amount: rust_decimal::Decimal,
}

/// `billing.payment.succeeded.v1`: the money is captured; a receipt (and an invoice) exists.
///
/// Amounts in billing's payment events are NET of tax: revenue, what splits, MRR and reports
/// count. The tax billing added (exclusive rate) or computed out of the price (inclusive rate)
/// is `tax`, absent when none applied; the customer was charged `amount + tax`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub user_id: Uuid,
    /// Net of tax.
    pub amount: Money,
    /// The tax charged on top of `amount`; absent when none applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    pub purpose: PaymentPurpose,
    /// The caller's id for what is paid (purchase id, subscription id, ...).
    pub reference_id: String,
    pub receipt_number: String,
    pub succeeded_at: DateTime<Utc>,
}

impl DomainEvent for PaymentSucceeded {
    const TYPE: &'static str = "billing.payment.succeeded.v1";
    const SOURCE: &'static str = "billing";
    fn subject(&self) -> String {
        self.payment_id.to_string()
    }
}

/// `billing.payment.failed.v1`: an attempt to pay failed (the card was declined, authentication failed...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentFailed {
    pub payment_id: Uuid,
    pub user_id: Uuid,
    /// Net of tax.
    pub amount: Money,
    /// The tax that would have been charged on top of `amount`; absent when none applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    pub purpose: PaymentPurpose,
    pub reference_id: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub failed_at: DateTime<Utc>,
}

impl DomainEvent for PaymentFailed {
    const TYPE: &'static str = "billing.payment.failed.v1";
    const SOURCE: &'static str = "billing";
    fn subject(&self) -> String {
        self.payment_id.to_string()
    }
}

/// `billing.payment.refunded.v1`: Stripe confirmed (part of) a refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub user_id: Uuid,
    pub purpose: PaymentPurpose,
    pub reference_id: String,
    /// The captured amount of the payment, net of tax.
    pub amount: Money,
    /// Refunded by this event, net of tax (the revenue given back).
    pub refunded_amount: Money,
    /// Refunded so far, this event included, net of tax: equal to `amount` once fully refunded.
    pub total_refunded: Money,
    /// The tax part of this refund (the customer got `refunded_amount + tax` back); absent when
    /// the payment was untaxed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    pub fully_refunded: bool,
    pub refunded_at: DateTime<Utc>,
    /// Why the money went back.
    pub reason: RefundReason,
    /// Who asked for the refund.
    pub initiated_by: RefundInitiator,
    /// THE field consumers act on: true unless this is a partial `goodwill` refund. Consumers read
    /// a missing value (events published before it existed) as `fully_refunded`.
    pub ends_access: bool,
}

/// Why a refund was made (`billing.payment.refunded.v1`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    RequestedByCustomer,
    Duplicate,
    Fraudulent,
    /// A gesture by an admin (or in Stripe's dashboard); a partial one keeps access.
    Goodwill,
    /// Billing refunded a payment nobody can use any more (a void request).
    Unfulfillable,
}

impl RefundReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::RequestedByCustomer => "requested_by_customer",
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
            Self::Goodwill => "goodwill",
            Self::Unfulfillable => "unfulfillable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "requested_by_customer" => Some(Self::RequestedByCustomer),
            "duplicate" => Some(Self::Duplicate),
            "fraudulent" => Some(Self::Fraudulent),
            "goodwill" => Some(Self::Goodwill),
            "unfulfillable" => Some(Self::Unfulfillable),
            _ => None,
        }
    }
}

/// Who asked for a refund: `stripe` is a refund made outside our API (Stripe's dashboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundInitiator {
    Buyer,
    Admin,
    System,
    Stripe,
}

impl DomainEvent for PaymentRefunded {
    const TYPE: &'static str = "billing.payment.refunded.v1";
    const SOURCE: &'static str = "billing";
    fn subject(&self) -> String {
        self.payment_id.to_string()
    }
}

/// `billing.payment_method.default_changed.v1`: the card renewals charge changed (a card saved
/// through a SetupIntent became the default, or the customer chose another). `payment_method_id`
/// is billing's id of the card, `None` when the customer removed their last card on purpose.
/// Subscriptions retries a past-due renewal at once when a card is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodDefaultChanged {
    pub user_id: Uuid,
    pub payment_method_id: Option<Uuid>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl DomainEvent for PaymentMethodDefaultChanged {
    const TYPE: &'static str = "billing.payment_method.default_changed.v1";
    const SOURCE: &'static str = "billing";
    fn subject(&self) -> String {
        self.user_id.to_string()
    }
}
