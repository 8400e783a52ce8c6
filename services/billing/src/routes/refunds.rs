//! `POST /api/payments/{id}/refunds`: admins refund anything; buyers their course within the window.

use super::internal::stripe_key;
use super::views::RefundView;
use crate::domain::refund::{may_refund, refund_amount, RefundDenied, Refundable};
use crate::error::BillingError;
use crate::store::{history, payments, refunds};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use platform::auth::Principal;
use platform::idempotency::{self, IdempotencyKey};
use platform::money::Money;
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl Reason {
    fn stripe(self) -> stripe::RefundReason {
        match self {
            Reason::Duplicate => stripe::RefundReason::Duplicate,
            Reason::Fraudulent => stripe::RefundReason::Fraudulent,
            Reason::RequestedByCustomer => stripe::RefundReason::RequestedByCustomer,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Reason::Duplicate => "duplicate",
            Reason::Fraudulent => "fraudulent",
            Reason::RequestedByCustomer => "requested_by_customer",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// In the payment's currency; omitted = everything not yet refunded.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "4.99")]
    pub amount: Option<Decimal>,
    pub reason: Reason,
}

/// Refund (part of) a payment. Admins: any payment; buyers: their course within the refund window.
#[utoipa::path(post, path = "/api/payments/{id}/refunds", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = CreateRefund,
    responses((status = 201, body = RefundView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "idempotency_key_required"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "payment_not_refundable, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed, refund_exceeds_payment, idempotency_key_reused")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: web::Json<CreateRefund>,
) -> Result<HttpResponse, Problem> {
    let payment_id = id.into_inner();
    let req = body.into_inner();
    let scope = format!("{}:POST /api/payments/{payment_id}/refunds", principal.sub);
    let stripe_key = stripe_key("refund", &scope, &key.0)?;
    let st = state.clone();
    idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            // The lock serialises refunds of one payment: their sum is checked against what is left.
            let payment = payments::lock(conn, payment_id).await?.ok_or(BillingError::PaymentNotFound)?;
            let caller = principal.user_id().ok();
            if !principal.is_admin() && caller != Some(payment.user_id) {
                return Err(BillingError::PaymentNotFound.into());
            }
            let facts = Refundable {
                status: &payment.status,
                purpose: &payment.purpose,
                buyer: payment.user_id,
                captured: payment.amount,
                already_refunded: refunds::total_active(conn, payment_id).await?,
                succeeded_at: payment.succeeded_at,
            };
            let currency = super::views::money(Decimal::ZERO, &payment.currency)?.currency;
            let check = may_refund(
                &facts,
                caller.unwrap_or_default(),
                principal.is_admin(),
                Utc::now(),
                st.config.refund_window_days,
            )
            .and_then(|_| refund_amount(&facts, req.amount));
            let amount = check.map_err(|denied| denial(denied, req.amount, &payment.currency))?;
            let minor = Money::new(amount, currency).map_err(Problem::from)?.to_minor_units().map_err(Problem::from)?;
            let refund_id = Uuid::now_v7();
            let params = stripe::CreateRefund {
                payment_intent: Some(payment.stripe_payment_intent_id.clone()),
                amount: Some(minor),
                reason: Some(req.reason.stripe()),
                metadata: [
                    ("refund_id".to_string(), refund_id.to_string()),
                    ("payment_id".to_string(), payment_id.to_string()),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            };
            let refund = st.stripe.create_refund(&params, &stripe_key).await.map_err(BillingError::from)?;
            let row = refunds::insert(
                conn,
                &refunds::NewRefund {
                    id: refund_id,
                    payment_id,
                    amount,
                    currency: payment.currency.trim(),
                    reason: req.reason.as_str(),
                    status: crate::domain::payment::refund_status_name(refund.status),
                    stripe_refund_id: &refund.id,
                    requested_by: &principal.sub,
                },
            )
            .await?;
            history::insert(
                conn,
                &history::NewLine {
                    user_id: payment.user_id,
                    payment_id,
                    refund_id: Some(refund_id),
                    kind: "refund",
                    amount,
                    currency: payment.currency.trim(),
                    description: &format!("Refund: {}", payment.description),
                },
            )
            .await?;
            Ok((StatusCode::CREATED, RefundView::new(&row)?))
        })
    })
    .await
}

fn denial(denied: RefundDenied, requested: Option<Decimal>, currency: &str) -> Problem {
    let e = match denied {
        RefundDenied::NotSucceeded => BillingError::NotRefundable("only a succeeded payment can be refunded"),
        RefundDenied::Forbidden => {
            return Problem::forbidden().with_detail("only admins, or the buyer of a course, may refund")
        }
        RefundDenied::WindowClosed => BillingError::RefundWindowClosed,
        RefundDenied::NotPositive => return Problem::field("amount", "must be positive"),
        RefundDenied::ExceedsRemaining { remaining } => BillingError::RefundExceedsPayment {
            requested: requested.map(|r| format!("{r} {currency}")).unwrap_or_else(|| "the rest".into()),
            remaining: format!("{remaining} {currency}"),
        },
    };
    e.into()
}
