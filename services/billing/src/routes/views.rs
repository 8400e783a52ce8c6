//! Response bodies.

use crate::store::payments::{NewPayment, Payment};
use crate::store::refunds::Refund;
use chrono::{DateTime, Utc};
use platform::money::{Currency, Money};
use platform::Problem;
use serde::Serialize;
use uuid::Uuid;

pub fn money(amount: rust_decimal::Decimal, currency: &str) -> Result<Money, Problem> {
    let currency: Currency = currency.trim().parse().map_err(Problem::internal)?;
    Ok(Money::round(amount, currency))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    /// The tax within `amount` (what is charged: net + exclusive tax, or the price with an
    /// inclusive tax in it); absent when none applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    pub purpose: String,
    pub reference_id: String,
    pub description: String,
    /// Mirrors the Stripe PaymentIntent status.
    pub status: String,
    /// For the client app to confirm the payment with Stripe; only shown to the payer and services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub amount_refunded: Money,
    pub receipt_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub succeeded_at: Option<DateTime<Utc>>,
}

impl PaymentView {
    pub fn new(p: &Payment, show_secret: bool) -> Result<Self, Problem> {
        Ok(Self {
            id: p.id,
            user_id: p.user_id,
            amount: money(p.amount, &p.currency)?,
            tax: if p.tax_amount.is_zero() { None } else { Some(money(p.tax_amount, &p.currency)?) },
            purpose: p.purpose.clone(),
            reference_id: p.reference_id.clone(),
            description: p.description.clone(),
            status: p.status.clone(),
            client_secret: if show_secret { p.client_secret.clone() } else { None },
            failure_code: p.failure_code.clone(),
            failure_message: p.failure_message.clone(),
            amount_refunded: money(p.amount_refunded, &p.currency)?,
            receipt_number: p.receipt_number.clone(),
            created_at: p.created_at,
            succeeded_at: p.succeeded_at,
        })
    }

    /// What [`PaymentView::new`] shows of `p` once inserted at `created_at`, before Stripe decided
    /// anything (no failure, no receipt, nothing refunded), with its client secret: the answer of
    /// the one-statement creation, built before the statement that records it.
    pub fn unsettled(p: &NewPayment<'_>, created_at: DateTime<Utc>) -> Result<Self, Problem> {
        Ok(Self {
            id: p.id,
            user_id: p.user_id,
            amount: money(p.amount, p.currency)?,
            tax: if p.tax_amount.is_zero() { None } else { Some(money(p.tax_amount, p.currency)?) },
            purpose: p.purpose.to_string(),
            reference_id: p.reference_id.to_string(),
            description: p.description.to_string(),
            status: p.status.to_string(),
            client_secret: p.client_secret.map(str::to_string),
            failure_code: None,
            failure_message: None,
            amount_refunded: money(rust_decimal::Decimal::ZERO, p.currency)?,
            receipt_number: None,
            created_at,
            succeeded_at: None,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub reason: String,
    /// Mirrors the Stripe refund status.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl RefundView {
    pub fn new(r: &Refund) -> Result<Self, Problem> {
        Ok(Self {
            id: r.id,
            payment_id: r.payment_id,
            amount: money(r.amount, &r.currency)?,
            reason: r.reason.clone(),
            status: r.status.clone(),
            created_at: r.created_at,
        })
    }
}
