//! `POST /api/payments/webhook`: Stripe's notifications, authenticated by their signature.

use crate::error::BillingError;
use crate::store::stripe_events;
use crate::{webhooks, State};
use actix_web::{web, HttpRequest, HttpResponse};
use platform::Problem;
use serde_json::json;

pub async fn receive(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, Problem> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| BillingError::InvalidWebhook("missing Stripe-Signature".into()))?;
    // Verified on the raw bytes: any change to the body breaks the signature.
    let event =
        state.webhooks.construct_event(signature, &body).map_err(|e| BillingError::InvalidWebhook(e.to_string()))?;
    let st = state.clone();
    let outcome = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if !stripe_events::record(conn, &event.id, &event.type_).await? {
                return Ok::<_, BillingError>("duplicate");
            }
            Ok(match webhooks::apply(conn, &st, &event).await? {
                webhooks::Outcome::Applied => "applied",
                webhooks::Outcome::Ignored => "ignored",
            })
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "received": true, "outcome": outcome })))
}
