//! Billing's errors, mapped to problem+json in one place.

use actix_web::http::StatusCode;
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("payment not found")]
    PaymentNotFound,
    #[error("the payment has no receipt yet")]
    ReceiptNotAvailable,
    #[error("the payment cannot be refunded: {0}")]
    NotRefundable(&'static str),
    #[error("refund of {requested} exceeds the {remaining} left to refund")]
    RefundExceedsPayment { requested: String, remaining: String },
    #[error("the refund window has passed")]
    RefundWindowClosed,
    #[error("a buyer's refund is of everything left ({remaining}); partial refunds are an admin's decision")]
    PartialRefundNotAllowed { remaining: String },
    #[error("refund reason {0} is not allowed for this caller")]
    RefundReasonNotAllowed(&'static str),
    #[error("invalid Stripe webhook: {0}")]
    InvalidWebhook(String),
    #[error("the card was declined: {0}")]
    CardDeclined(String),
    #[error("Stripe is unavailable: {0}")]
    StripeUnavailable(String),
    #[error(transparent)]
    Problem(#[from] Problem),
}

impl From<diesel::result::Error> for BillingError {
    fn from(e: diesel::result::Error) -> Self {
        BillingError::Problem(e.into())
    }
}

impl From<platform::db::PoolError> for BillingError {
    fn from(e: platform::db::PoolError) -> Self {
        BillingError::Problem(e.into())
    }
}

impl From<stripe::StripeError> for BillingError {
    fn from(e: stripe::StripeError) -> Self {
        match &e {
            stripe::StripeError::Card { message, .. } => BillingError::CardDeclined(message.clone()),
            e if e.is_retryable() => BillingError::StripeUnavailable(e.to_string()),
            _ => BillingError::Problem(Problem::internal(e)),
        }
    }
}

impl From<BillingError> for Problem {
    fn from(e: BillingError) -> Self {
        use BillingError as E;
        match e {
            E::PaymentNotFound => Problem::not_found("payment"),
            E::ReceiptNotAvailable => Problem::new(StatusCode::NOT_FOUND, "receipt_not_available", "No receipt yet")
                .with_detail("a receipt exists once the payment has succeeded"),
            E::NotRefundable(why) => Problem::conflict("payment_not_refundable", why),
            E::RefundExceedsPayment { .. } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_payment", "Refund too large")
                    .with_detail(e.to_string())
            }
            E::RefundWindowClosed => Problem::forbidden().with_detail(e.to_string()),
            E::PartialRefundNotAllowed { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "partial_refund_not_allowed",
                "Partial refunds are for admins",
            )
            .with_detail(e.to_string()),
            E::RefundReasonNotAllowed(_) => {
                Problem::new(StatusCode::FORBIDDEN, "refund_reason_not_allowed", "Refund reason not allowed")
                    .with_detail(e.to_string())
            }
            E::InvalidWebhook(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "invalid_webhook", "Webhook refused").with_detail(detail)
            }
            E::CardDeclined(detail) => {
                Problem::new(StatusCode::PAYMENT_REQUIRED, "card_declined", "The card was declined").with_detail(detail)
            }
            E::StripeUnavailable(cause) => {
                tracing::warn!(%cause, "Stripe unavailable");
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "payment_provider_unavailable",
                    "The payment provider is unavailable",
                )
            }
            E::Problem(p) => p,
        }
    }
}
