//! `POST /api/payments/webhook`: Stripe's notifications, authenticated by their signature.

use crate::error::BillingError;
use crate::store::stripe_events;
use crate::{webhooks, State};
use actix_web::{web, HttpRequest, HttpResponse};
use platform::Problem;
use serde_json::json;

/// Stripe's webhook: authenticated by the `Stripe-Signature` header, not a token.
#[utoipa::path(post, path = "/api/payments/webhook", tag = "billing", security(()),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<HMAC-SHA256>")),
    request_body(content = Object, description = "A Stripe event"),
    responses((status = 200, description = "Applied, ignored, a duplicate, or refused (Stripe's facts disagree with our record: flagged for review, not retried)"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "invalid_webhook"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "payment_not_yet_recorded, refund_not_yet_recorded: deliver again later")))]
pub async fn receive(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, Problem> {
    let (result, answer) = match apply(&state, &req, &body).await {
        Ok(outcome) => (outcome, Ok(HttpResponse::Ok().json(json!({ "received": true, "outcome": outcome })))),
        Err(Refusal(result, e)) => (result, Err(e.into())),
    };
    state.metrics.webhooks.inc(&[result]);
    answer
}

/// A webhook not applied, with its metrics result.
struct Refusal(&'static str, BillingError);

impl From<BillingError> for Refusal {
    fn from(e: BillingError) -> Self {
        let result = match &e {
            BillingError::Problem(p) if p.status == 409 => "not_yet_recorded",
            _ => "error",
        };
        Refusal(result, e)
    }
}

async fn apply(state: &State, req: &HttpRequest, body: &[u8]) -> Result<&'static str, Refusal> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal("bad_signature", BillingError::InvalidWebhook("missing Stripe-Signature".into())))?;
    // Verified on the raw bytes: any change to the body breaks the signature.
    let event = state
        .webhooks
        .construct_event(signature, body)
        .map_err(|e| Refusal(crate::metrics::refusal(&e), BillingError::InvalidWebhook(e.to_string())))?;
    // A duplicate costs no Stripe call; the insert in the transaction below stays the real guard.
    let seen = {
        let mut conn = state.pool.get().await.map_err(BillingError::from)?;
        stripe_events::seen(&mut conn, &event.id).await.map_err(BillingError::from)?
    };
    if seen {
        return Ok("duplicate");
    }
    // Stripe is asked first, holding no connection; then one short transaction applies the answer.
    let facts = webhooks::fetch(state, &event).await?;
    let intent = match &facts {
        webhooks::Facts::Intent { intent, .. } => Some(intent.clone()),
        _ => None,
    };
    let now = state.clock.now();
    let outcome = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if !stripe_events::record(conn, &event.id, &event.type_).await? {
                return Ok::<_, BillingError>("duplicate");
            }
            Ok(match webhooks::apply(conn, &facts, now).await? {
                webhooks::Outcome::Applied => "applied",
                webhooks::Outcome::Ignored => "ignored",
                webhooks::Outcome::Refused => "refused",
            })
        })
    })
    .await?;
    // Counted after the commit, once per notification that changed the payment.
    if let (Some(intent), "applied") = (&intent, outcome) {
        state.metrics.payment_outcome(intent);
    }
    Ok(outcome)
}
