use std::fmt;

use serde::Deserialize;

use super::{check_id, Metadata};
use crate::client::Client;
use crate::form::FormBody;
use crate::{IdempotencyKey, StripeError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    /// `re_...`
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: RefundStatus,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub charge: Option<String>,
    #[serde(default)]
    pub reason: Option<RefundReason>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
    Canceled,
    RequiresAction,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
    /// Reasons Stripe sets itself (e.g. `expired_uncaptured_charge`); callers cannot send these.
    #[serde(other)]
    Other,
}

impl fmt::Display for RefundReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
            Self::RequestedByCustomer => "requested_by_customer",
            Self::Other => "other",
        })
    }
}

/// `POST /v1/refunds`. Name the payment by `payment_intent` (usual) or `charge`; leave `amount` empty for a full
/// refund of what remains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRefund {
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    /// Minor units; `None` refunds the remaining amount.
    pub amount: Option<i64>,
    pub reason: Option<RefundReason>,
    pub metadata: Metadata,
}

impl CreateRefund {
    pub(crate) fn to_form(&self) -> Result<FormBody, StripeError> {
        match (&self.payment_intent, &self.charge) {
            (Some(id), None) => check_id("payment_intent", id)?,
            (None, Some(id)) => check_id("charge", id)?,
            _ => {
                return Err(StripeError::InvalidArgument(
                    "a refund names exactly one of payment_intent or charge".into(),
                ))
            }
        }
        if matches!(self.amount, Some(amount) if amount <= 0) {
            return Err(StripeError::InvalidArgument("refund amount must be positive".into()));
        }
        if self.reason == Some(RefundReason::Other) {
            return Err(StripeError::InvalidArgument(
                "reason must be duplicate, fraudulent or requested_by_customer".into(),
            ));
        }
        let mut form = FormBody::new();
        form.push_opt("payment_intent", self.payment_intent.as_deref())
            .push_opt("charge", self.charge.as_deref())
            .push_opt("amount", self.amount)
            .push_opt("reason", self.reason);
        form.push_metadata(&self.metadata)?;
        Ok(form)
    }
}

impl Client {
    /// `POST /v1/refunds`
    pub async fn create_refund(
        &self,
        params: &CreateRefund,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Refund, StripeError> {
        self.post("refunds", params.to_form()?, idempotency_key).await
    }

    /// `GET /v1/refunds/{id}`
    pub async fn retrieve_refund(&self, id: &str) -> Result<Refund, StripeError> {
        check_id("refund", id)?;
        self.get(&format!("refunds/{id}")).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn partial_refund_encoding() {
        let params = CreateRefund {
            payment_intent: Some("pi_1".into()),
            amount: Some(250),
            reason: Some(RefundReason::RequestedByCustomer),
            metadata: [("refund_id".to_owned(), "r-1".to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(
            params.to_form().unwrap().encode(),
            "payment_intent=pi_1&amount=250&reason=requested_by_customer&metadata[refund_id]=r-1"
        );
    }

    #[test]
    fn refund_target_and_amount_are_checked() {
        assert!(CreateRefund::default().to_form().is_err());
        let both =
            CreateRefund { payment_intent: Some("pi_1".into()), charge: Some("ch_1".into()), ..Default::default() };
        assert!(both.to_form().is_err());
        let zero = CreateRefund { charge: Some("ch_1".into()), amount: Some(0), ..Default::default() };
        assert!(zero.to_form().is_err());
        let full = CreateRefund { charge: Some("ch_1".into()), ..Default::default() };
        assert_eq!(full.to_form().unwrap().encode(), "charge=ch_1");
    }
}
