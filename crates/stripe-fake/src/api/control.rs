//! `/_fake/...`: the test controls over HTTP, for tests that run the fake as a separate process (e2e, docker).
//! Unauthenticated on purpose: the fake is never deployed.
// Not a service: platform's input rules (and its extractors) are not the double's concern.
#![allow(clippy::disallowed_types)]

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::controls::Fault;
use crate::error::ApiError;
use crate::form::Params;
use crate::state::Shared;

type State = web::Data<Shared>;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payment_intents/{id}/confirm", web::post().to(client_confirm))
        .route("/setup_intents/{id}/confirm", web::post().to(client_confirm_setup))
        .route("/payment_intents/{id}/drop_webhooks", web::post().to(drop_webhooks))
        .route("/payment_intents/{id}/drop_webhooks", web::delete().to(deliver_webhooks))
        .route("/events/dropped", web::get().to(dropped_events))
        .route("/events", web::get().to(list_events))
        .route("/events/held", web::get().to(held_events))
        .route("/events/hold", web::post().to(hold_events))
        .route("/events/release", web::post().to(release_events))
        .route("/events/{id}", web::get().to(get_event))
        .route("/events/{id}/resend", web::post().to(resend_event))
        .route("/events/{id}/duplicate", web::post().to(duplicate_event))
        .route("/faults", web::post().to(inject_fault))
        .route("/faults", web::delete().to(clear_faults))
        .route("/calls", web::get().to(calls))
        .route("/webhook_url", web::put().to(set_webhook_url))
        .route("/deliveries", web::get().to(deliveries))
        .route("/refunds", web::post().to(dashboard_refund))
        .route("/refunds/{id}/fail", web::post().to(fail_refund))
        .route("/{kind}", web::get().to(list_objects));
}

fn render(result: Result<serde_json::Value, ApiError>) -> HttpResponse {
    match result {
        Ok(value) => HttpResponse::Ok().json(value),
        Err(e) => e.response(),
    }
}

#[derive(Deserialize)]
struct ConfirmBody {
    payment_method: Option<String>,
}

/// Accepts the payment method as JSON or, like Stripe.js talking to Stripe, as a form.
async fn client_confirm(req: HttpRequest, id: web::Path<String>, body: web::Bytes, state: State) -> HttpResponse {
    match confirm_body(&req, &body) {
        Ok(payment_method) => render(state.client_confirm(&id, payment_method.as_deref())),
        Err(response) => response,
    }
}

/// `POST /_fake/setup_intents/{id}/confirm {"payment_method": "pm_card_visa"}`: what Stripe.js's
/// `confirmCardSetup` does with the client secret; without a payment method, passes the 3-D
/// Secure challenge of an intent in `requires_action`.
async fn client_confirm_setup(req: HttpRequest, id: web::Path<String>, body: web::Bytes, state: State) -> HttpResponse {
    match confirm_body(&req, &body) {
        Ok(payment_method) => render(state.client_confirm_setup(&id, payment_method.as_deref())),
        Err(response) => response,
    }
}

fn confirm_body(req: &HttpRequest, body: &[u8]) -> Result<Option<String>, HttpResponse> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        serde_json::from_slice::<ConfirmBody>(body)
            .map(|parsed| parsed.payment_method)
            .map_err(|e| ApiError::invalid_param("parameter_invalid_string", "body", e.to_string()).response())
    } else {
        Params::parse(body).map(|params| params.str("payment_method").map(str::to_owned)).map_err(|e| e.response())
    }
}

/// `POST /_fake/payment_intents/{id}/drop_webhooks`: the intent's new events (its charge's and
/// refunds' too) are stored but never delivered, as when Stripe gives up on an endpoint. The
/// events stay listed (`GET /_fake/events`, `GET /_fake/events/dropped`) and `resend` delivers
/// one late.
async fn drop_webhooks(id: web::Path<String>, state: State) -> HttpResponse {
    state.drop_webhooks(&id, true);
    HttpResponse::Ok().json(json!({ "payment_intent": id.as_str(), "dropping": true }))
}

/// `DELETE /_fake/payment_intents/{id}/drop_webhooks`: its new events are delivered again.
async fn deliver_webhooks(id: web::Path<String>, state: State) -> HttpResponse {
    state.drop_webhooks(&id, false);
    HttpResponse::Ok().json(json!({ "payment_intent": id.as_str(), "dropping": false }))
}

async fn dropped_events(state: State) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": state.dropped_event_ids() }))
}

async fn list_events(state: State) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": state.events() }))
}

async fn get_event(id: web::Path<String>, state: State) -> HttpResponse {
    render(state.event(&id))
}

async fn resend_event(id: web::Path<String>, state: State) -> HttpResponse {
    render(state.redeliver(&id, 1).map(|()| json!({ "queued": 1 })))
}

async fn duplicate_event(id: web::Path<String>, state: State) -> HttpResponse {
    render(state.redeliver(&id, 2).map(|()| json!({ "queued": 2 })))
}

async fn hold_events(state: State) -> HttpResponse {
    state.hold_events();
    HttpResponse::Ok().json(json!({ "holding": true }))
}

async fn held_events(state: State) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": state.held_event_ids() }))
}

#[derive(Deserialize, Default)]
struct ReleaseBody {
    #[serde(default)]
    order: Vec<String>,
}

/// Answers once every released delivery has been attempted, so a caller can assert right after.
async fn release_events(body: web::Bytes, state: State) -> HttpResponse {
    let parsed = if body.is_empty() {
        ReleaseBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(parsed) => parsed,
            Err(e) => return ApiError::invalid_param("parameter_invalid_string", "order", e.to_string()).response(),
        }
    };
    let delivered = state.release_events(&parsed.order).await;
    HttpResponse::Ok().json(json!({ "released": delivered }))
}

#[derive(Deserialize)]
struct FaultBody {
    fault: Fault,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

async fn inject_fault(body: web::Json<FaultBody>, state: State) -> HttpResponse {
    state.inject_fault(body.fault, body.count);
    HttpResponse::Ok().json(json!({ "injected": body.count }))
}

async fn clear_faults(state: State) -> HttpResponse {
    state.clear_faults();
    HttpResponse::NoContent().finish()
}

async fn calls(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.call_counts())
}

#[derive(Deserialize)]
struct WebhookUrlBody {
    url: Option<String>,
}

async fn set_webhook_url(body: web::Json<WebhookUrlBody>, state: State) -> HttpResponse {
    state.set_webhook_url(body.url.clone());
    HttpResponse::Ok().json(json!({ "url": body.url }))
}

async fn deliveries(state: State) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": state.delivery_attempts() }))
}

#[derive(Deserialize)]
struct DashboardRefundBody {
    payment_intent: String,
    /// Minor units; omitted = what is left.
    amount: Option<i64>,
    reason: Option<String>,
}

/// `POST /_fake/refunds {"payment_intent": "pi_...", "amount": 500}`: a refund made in Stripe's
/// dashboard, outside the merchant's API calls.
async fn dashboard_refund(body: web::Json<DashboardRefundBody>, state: State) -> HttpResponse {
    render(state.dashboard_refund(&body.payment_intent, body.amount, body.reason.as_deref()))
}

/// `POST /_fake/refunds/{id}/fail`: the refund fails after all (`charge.refund.updated`).
async fn fail_refund(id: web::Path<String>, state: State) -> HttpResponse {
    render(state.fail_refund(&id))
}

async fn list_objects(kind: web::Path<String>, state: State) -> HttpResponse {
    match state.list(&kind) {
        Some(items) => HttpResponse::Ok().json(json!({ "data": items })),
        None => HttpResponse::NotFound().finish(),
    }
}
