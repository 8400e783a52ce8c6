//! Events published by marketplace.

use super::DomainEvent;
use chrono::{DateTime, Utc};
use platform::money::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TYPES: &[&str] = &[
    CoursePurchased::TYPE,
    PurchaseRefunded::TYPE,
    ReviewPosted::TYPE,
    PaymentVoidRequested::TYPE,
    VoucherReleased::TYPE,
    VoucherReleasedV2::TYPE,
];

/// `marketplace.course.purchased.v1`: the buyer has access; the split is booked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoursePurchased {
    pub purchase_id: Uuid,
    pub course_id: Uuid,
    pub buyer_id: Uuid,
    pub instructor_id: Uuid,
    /// What the buyer paid, net of tax (zero for a free course): the amount the shares split.
    pub gross: Money,
    /// The tax billing charged with the payment (within an inclusive price or on top of an
    /// exclusive one): nobody's revenue. Absent when none applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    pub instructor_share: Money,
    pub platform_share: Money,
    /// The billing payment, absent for free courses.
    pub payment_id: Option<Uuid>,
    pub purchased_at: DateTime<Utc>,
}

impl DomainEvent for CoursePurchased {
    const TYPE: &'static str = "marketplace.course.purchased.v1";
    const SOURCE: &'static str = "marketplace";
    fn subject(&self) -> String {
        self.purchase_id.to_string()
    }
}

/// `marketplace.purchase.refunded.v1`: (part of) a purchase was refunded and its shares reversed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRefunded {
    pub purchase_id: Uuid,
    pub course_id: Uuid,
    pub buyer_id: Uuid,
    pub instructor_id: Uuid,
    pub refunded_amount: Money,
    pub instructor_reversal: Money,
    pub platform_reversal: Money,
    /// True when the whole price is refunded.
    pub fully_refunded: bool,
    /// True when this refund (or an earlier one) ended the buyer's access: every refund does except
    /// a partial goodwill one (billing's `ends_access`). Consumers reading an event without it
    /// (published before the field existed) take `fully_refunded`.
    pub access_ended: bool,
    pub refunded_at: DateTime<Utc>,
}

impl DomainEvent for PurchaseRefunded {
    const TYPE: &'static str = "marketplace.purchase.refunded.v1";
    const SOURCE: &'static str = "marketplace";
    fn subject(&self) -> String {
        self.purchase_id.to_string()
    }
}

/// `marketplace.review.posted.v1`: a buyer reviewed a course (first review per user and course).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewPosted {
    pub review_id: Uuid,
    pub course_id: Uuid,
    pub reviewer_id: Uuid,
    pub rating: u8,
    pub posted_at: DateTime<Utc>,
}

impl DomainEvent for ReviewPosted {
    const TYPE: &'static str = "marketplace.review.posted.v1";
    const SOURCE: &'static str = "marketplace";
    fn subject(&self) -> String {
        self.review_id.to_string()
    }
}

/// `marketplace.payment.void_requested.v1`: marketplace will never use this payment (its purchase
/// expired or was superseded, or the buyer already owns the course). Billing cancels the
/// PaymentIntent, or refunds the payment in full if it has succeeded or succeeds later.
/// Duplicates are allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentVoidRequested {
    pub payment_id: Uuid,
    pub user_id: Uuid,
    /// The purchase id.
    pub reference_id: String,
    /// `purchase_expired`, `purchase_superseded`, `already_owned`, `payment_failed` (a declined
    /// voucher purchase, closed at once so its voucher comes back).
    pub reason: String,
    pub requested_at: DateTime<Utc>,
}

impl DomainEvent for PaymentVoidRequested {
    const TYPE: &'static str = "marketplace.payment.void_requested.v1";
    const SOURCE: &'static str = "marketplace";
    fn subject(&self) -> String {
        self.payment_id.to_string()
    }
}

/// `marketplace.voucher.released.v1` (superseded by [`VoucherReleasedV2`], no longer published):
/// a purchase that reserved a reward voucher (at rewards, through
/// `POST /internal/vouchers/reserve`) will not keep it: it was closed unpaid (payment failed,
/// expired, superseded) or refunded so that access ended. Rewards gives the voucher back to its
/// owner, usable again until it expires, if `purchase_id` still holds it. Duplicates are allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherReleased {
    pub voucher_code: String,
    pub purchase_id: Uuid,
    pub user_id: Uuid,
    /// `payment_failed`, `purchase_expired`, `purchase_superseded`, `already_owned`, `refunded`.
    pub reason: String,
    pub released_at: DateTime<Utc>,
}

impl DomainEvent for VoucherReleased {
    const TYPE: &'static str = "marketplace.voucher.released.v1";
    const SOURCE: &'static str = "marketplace";
    fn subject(&self) -> String {
        self.purchase_id.to_string()
    }
}

/// `marketplace.voucher.released.v2`: [`VoucherReleased`] without the voucher's code. Codes are
/// secrets kept only as keyed hashes (issue 21), and rewards finds the voucher by the purchase
/// holding it, so the event carries the code's clear prefix only, for people reading it.
/// Marketplace publishes this one; rewards still consumes v1 events already in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherReleasedV2 {
    pub purchase_id: Uuid,
    pub user_id: Uuid,
    /// `RW-` and the code's first group, as the purchase recorded it.
    pub voucher_code_prefix: String,
    /// `payment_failed`, `purchase_expired`, `purchase_superseded`, `already_owned`, `refunded`.
    pub reason: String,
    pub released_at: DateTime<Utc>,
}

impl DomainEvent for VoucherReleasedV2 {
    const TYPE: &'static str = "marketplace.voucher.released.v2";
    const SOURCE: &'static str = "marketplace";
    fn subject(&self) -> String {
        self.purchase_id.to_string()
    }
}
