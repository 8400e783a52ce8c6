//! `POST /api/payments/{id}/refunds`: admins refund any amount for any reason; a buyer refunds
//! their own course purchase in full inside the window (see `domain::refund`).
//!
//! No transaction or pooled connection is held while Stripe is asked: the refund is first reserved
//! (a `pending` row without a Stripe id, which counts against what is left, with its history line)
//! in one short transaction under the payment's lock; Stripe is called with no connection; a second
//! short transaction records Stripe's answer. The `charge.refunded` webhook then announces it.

use super::internal::stripe_key;
use super::views::RefundView;
use crate::domain::refund::{self as policy, Caller, RefundDenied, Refundable};
use crate::error::BillingError;
use crate::store::{history, payments, refunds};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use events::catalog::billing::RefundReason;
use platform::auth::Principal;
use platform::http::Json;
use platform::idempotency::{self, IdempotencyKey, Step};
use platform::money::Money;
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The reasons the API takes (`unfulfillable` is billing's own, for payments nobody can use).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
    /// Admins only: a gesture. A partial goodwill refund is the only refund that keeps access.
    Goodwill,
}

impl From<Reason> for RefundReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::Duplicate => RefundReason::Duplicate,
            Reason::Fraudulent => RefundReason::Fraudulent,
            Reason::RequestedByCustomer => RefundReason::RequestedByCustomer,
            Reason::Goodwill => RefundReason::Goodwill,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// In the payment's currency; omitted = everything not yet refunded. A buyer may only refund
    /// everything that is left.
    #[serde(
        default,
        deserialize_with = "decimal_if_present",
        serialize_with = "rust_decimal::serde::str_option::serialize"
    )]
    #[schema(value_type = Option<String>, example = "4.99")]
    pub amount: Option<Decimal>,
    /// Omitted = `requested_by_customer`, the only reason a buyer may give.
    #[serde(default)]
    pub reason: Option<Reason>,
}

/// What the reservation asks Stripe for.
struct Planned {
    refund_id: Uuid,
    payment_id: Uuid,
    intent: String,
    minor: i64,
    reason: RefundReason,
}

/// `amount` as a decimal string when given. rust_decimal's own `str_option` reads `""` as absent,
/// which here would mean "refund everything": an empty or malformed amount must be refused.
fn decimal_if_present<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Decimal>, D::Error> {
    use serde::de::Error;
    match Option::<String>::deserialize(de)? {
        None => Ok(None),
        Some(s) => {
            s.parse::<Decimal>().map(Some).map_err(|_| D::Error::custom("must be a decimal amount such as \"4.99\""))
        }
    }
}

/// Refund (part of) a payment. Admins: any payment, any amount; buyers: their course, in full,
/// within the refund window. Every refund ends the buyer's access except a partial `goodwill` one.
#[utoipa::path(post, path = "/api/payments/{id}/refunds", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = CreateRefund,
    responses((status = 201, body = RefundView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "idempotency_key_required"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden, refund_reason_not_allowed"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "payment_not_refundable, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed, refund_exceeds_payment, partial_refund_not_allowed, idempotency_key_reused"),
        (status = 502, body = Problem, content_type = "application/problem+json", description = "payment_provider_unavailable: retry with the same key")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: Json<CreateRefund>,
) -> Result<HttpResponse, Problem> {
    let payment_id = id.into_inner();
    let req = body.into_inner();
    let scope = format!("{}:POST /api/payments/{payment_id}/refunds", principal.sub);
    let stripe_key = stripe_key("refund", &scope, &key.0)?;
    let request_key = stripe_key.as_str().to_string();
    let st = state.clone();
    let ask = req.clone();
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req,
        move |conn| Box::pin(reserve(conn, st, principal, payment_id, ask, request_key)),
        |planned| call_stripe(state.clone(), planned, stripe_key),
        move |conn, (refund_id, refund)| Box::pin(record_answer(conn, refund_id, refund)),
    )
    .await
}

/// The refund's id is derived from the request's key, so a retry of the same request (after a
/// failed call) names the same refund in Stripe's metadata, as Stripe's idempotency requires.
fn refund_id_for(request_key: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, request_key.as_bytes())
}

/// Step 1, under the payment's lock: the policy, then the reservation (or the one an earlier
/// attempt of this request made).
async fn reserve(
    conn: &mut diesel_async::AsyncPgConnection,
    st: web::Data<State>,
    principal: Principal,
    payment_id: Uuid,
    req: CreateRefund,
    request_key: String,
) -> Result<Step<RefundView, Planned>, Problem> {
    let payment = payments::lock(conn, payment_id).await?.ok_or(BillingError::PaymentNotFound)?;
    let caller = principal.user_id().ok();
    if !principal.is_admin() && caller != Some(payment.user_id) {
        return Err(BillingError::PaymentNotFound.into());
    }
    let reason: RefundReason = req.reason.unwrap_or(Reason::RequestedByCustomer).into();
    let currency = super::views::money(Decimal::ZERO, &payment.currency)?.currency;
    if let Some(earlier) = refunds::find_by_request_key(conn, &request_key).await? {
        return resume(earlier, &payment, &req, reason, currency);
    }
    let facts = Refundable {
        status: &payment.status,
        purpose: &payment.purpose,
        buyer: payment.user_id,
        captured: payment.amount,
        already_refunded: refunds::total_active(conn, payment_id).await?,
        succeeded_at: payment.succeeded_at,
    };
    let who = Caller { id: caller.unwrap_or_default(), is_admin: principal.is_admin() };
    let amount = policy::plan(&facts, who, req.amount, reason, st.clock.now(), st.config.refund_window_days)
        .map_err(|denied| denial(denied, req.amount, &payment.currency))?;
    let minor = Money::new(amount, currency).map_err(Problem::from)?.to_minor_units().map_err(Problem::from)?;
    let refund_id = refund_id_for(&request_key);
    refunds::reserve(
        conn,
        &refunds::Reservation {
            id: refund_id,
            payment_id,
            amount,
            currency: payment.currency.trim(),
            reason: reason.as_str(),
            status: "pending",
            requested_by: &principal.sub,
            request_key: &request_key,
        },
    )
    .await?;
    history::insert_refund(conn, &payment, refund_id, amount, "Refund").await?;
    Ok(Step::Call(Planned { refund_id, payment_id, intent: payment.stripe_payment_intent_id, minor, reason }))
}

/// An earlier attempt of this request reserved the refund: ask Stripe again (it replays under the
/// same key), or answer at once when Stripe's answer is already known (the webhook linked it).
fn resume(
    earlier: refunds::Refund,
    payment: &payments::Payment,
    req: &CreateRefund,
    reason: RefundReason,
    currency: platform::money::Currency,
) -> Result<Step<RefundView, Planned>, Problem> {
    let same = earlier.payment_id == payment.id
        && earlier.reason == reason.as_str()
        && req.amount.is_none_or(|a| a == earlier.amount);
    if !same {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request",
        ));
    }
    if earlier.stripe_refund_id.is_some() {
        return Ok(Step::Done(StatusCode::CREATED, RefundView::new(&earlier)?));
    }
    let minor = Money::new(earlier.amount, currency).map_err(Problem::from)?.to_minor_units().map_err(Problem::from)?;
    Ok(Step::Call(Planned {
        refund_id: earlier.id,
        payment_id: earlier.payment_id,
        intent: payment.stripe_payment_intent_id.clone(),
        minor,
        reason,
    }))
}

/// Step 2, holding no connection. When Stripe refuses (nothing was made), the reservation is given
/// back; when the outcome is unknown (timeout, 5xx) it stays: a retry with the same key, or the
/// `charge.refunded` webhook, settles it.
async fn call_stripe(
    state: web::Data<State>,
    p: Planned,
    key: stripe::IdempotencyKey,
) -> Result<(Uuid, stripe::Refund), Problem> {
    let mut metadata: stripe::Metadata =
        [("refund_id".to_string(), p.refund_id.to_string()), ("payment_id".to_string(), p.payment_id.to_string())]
            .into_iter()
            .collect();
    // Stripe knows three reasons; ours (e.g. goodwill) is kept in the metadata.
    metadata.insert("reason".to_string(), p.reason.as_str().to_string());
    let params = stripe::CreateRefund {
        payment_intent: Some(p.intent.clone()),
        amount: Some(p.minor),
        reason: policy::stripe_reason(p.reason),
        metadata,
        ..Default::default()
    };
    match state.stripe.create_refund(&params, &key).await {
        Ok(refund) => Ok((p.refund_id, refund)),
        Err(e) => {
            use stripe::StripeError as E;
            let refused = matches!(
                e,
                E::InvalidRequest { .. }
                    | E::Card { .. }
                    | E::InvalidArgument(_)
                    | E::Idempotency { .. }
                    | E::Authentication { .. }
            );
            if refused {
                let id = p.refund_id;
                platform::db::transaction(&state.pool, move |conn| {
                    Box::pin(async move { refunds::release(conn, id).await.map_err(Problem::from) })
                })
                .await?;
            }
            Err(refused_problem(e))
        }
    }
}

/// Stripe's "nothing left to refund" means a refund we have not heard of yet (made in its
/// dashboard, its webhook still on the way): the caller's request is too large, not a fault.
fn refused_problem(e: stripe::StripeError) -> Problem {
    match e.code() {
        Some("amount_too_large" | "charge_already_refunded") => BillingError::RefundExceedsPayment {
            requested: "the amount".into(),
            remaining: "what Stripe has left on the charge".into(),
        }
        .into(),
        _ => BillingError::from(e).into(),
    }
}

/// Step 3: Stripe's id and status on the reserved row (the webhook may have put them there first).
async fn record_answer(
    conn: &mut diesel_async::AsyncPgConnection,
    refund_id: Uuid,
    refund: stripe::Refund,
) -> Result<(StatusCode, RefundView), Problem> {
    let row = refunds::find(conn, refund_id).await?.ok_or_else(|| Problem::internal("reserved refund vanished"))?;
    // Serialises with the webhook, which applies refunds of this payment under the same lock.
    payments::lock(conn, row.payment_id).await?;
    let row = refunds::find(conn, refund_id).await?.ok_or_else(|| Problem::internal("reserved refund vanished"))?;
    let row = match row.stripe_refund_id {
        Some(_) => row,
        None => {
            let status = crate::domain::payment::refund_status_name(refund.status);
            refunds::record_stripe_state(conn, refund_id, &refund.id, status, refund.failure_reason.as_deref()).await?
        }
    };
    Ok((StatusCode::CREATED, RefundView::new(&row)?))
}

fn denial(denied: RefundDenied, requested: Option<Decimal>, currency: &str) -> Problem {
    let currency = currency.trim();
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
        RefundDenied::PartialNotAllowed { remaining } => {
            BillingError::PartialRefundNotAllowed { remaining: format!("{remaining} {currency}") }
        }
        RefundDenied::ReasonNotAllowed(reason) => BillingError::RefundReasonNotAllowed(reason.as_str()),
    };
    e.into()
}
