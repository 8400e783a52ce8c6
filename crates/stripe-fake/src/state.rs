//! The state shared by the HTTP handlers, the test controls and the webhook sender, and the request wrapper that
//! applies Stripe's idempotency rules to every mutating call.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::config::FakeConfig;
use crate::controls::{lock, Controls};
use crate::error::ApiError;
use crate::form::Params;
use crate::store::{RequestCtx, SavedResponse, Store};
use crate::webhooks::{Delivery, Webhooks};

/// The API key a request was authenticated with, put in the request extensions by the `/v1` gate.
#[derive(Debug, Clone)]
pub(crate) struct ApiKey(pub String);

pub(crate) struct Shared {
    pub config: FakeConfig,
    pub store: Mutex<Store>,
    pub controls: Controls,
    pub webhooks: Arc<Webhooks>,
}

impl Shared {
    /// Runs a mutating operation under Stripe's idempotency semantics: with a key seen before, the same parameters
    /// replay the saved response and different ones are refused; otherwise the operation runs and its result is
    /// saved under the key (unless it failed validation, which Stripe does not save).
    pub(crate) fn mutate(
        &self,
        req: &HttpRequest,
        body: &[u8],
        op: impl FnOnce(&mut Store, &Params, &RequestCtx) -> Result<Value, ApiError>,
    ) -> HttpResponse {
        let params = match Params::parse(body) {
            Ok(params) => params,
            Err(e) => return e.response(),
        };
        let api_key = req.extensions().get::<ApiKey>().map(|k| k.0.clone()).unwrap_or_default();
        let idempotency_key = req
            .headers()
            .get("Idempotency-Key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|k| !k.is_empty());
        let request_id = crate::ids::request_id();
        let ctx = RequestCtx { idempotency_key: idempotency_key.clone(), request_id: Some(request_id.clone()) };
        let fingerprint = format!("{} {}\n{}", req.method(), req.path(), params.canonical());

        let (status, body, replayed, events) = {
            let mut store = lock(&self.store);
            let saved = idempotency_key
                .as_ref()
                .and_then(|key| store.idempotency.get(&(api_key.clone(), key.clone())).cloned());
            match saved {
                Some(saved) if saved.fingerprint != fingerprint => {
                    let key = idempotency_key.as_deref().unwrap_or_default();
                    return ApiError::idempotency(key).response();
                }
                Some(saved) => (saved.status, saved.body, true, Vec::new()),
                None => {
                    let (status, value, save) = match op(&mut store, &params, &ctx) {
                        Ok(value) => (200, value, true),
                        Err(e) => (e.status, e.to_json(), e.saved_for_idempotency),
                    };
                    let body = value.to_string();
                    if let (Some(key), true) = (&idempotency_key, save) {
                        store
                            .idempotency
                            .insert((api_key, key.clone()), SavedResponse { fingerprint, status, body: body.clone() });
                    }
                    (status, body, false, store.take_new_events())
                }
            }
        };
        for event in &events {
            self.webhooks.enqueue_new(Delivery::from(event));
        }

        let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
        response.content_type("application/json").insert_header(("Request-Id", request_id));
        if let Some(key) = &idempotency_key {
            response.insert_header(("Idempotency-Key", key.as_str()));
        }
        if replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.body(body)
    }

    /// Runs a read-only lookup and renders it.
    pub(crate) fn read(&self, op: impl FnOnce(&Store) -> Result<Value, ApiError>) -> HttpResponse {
        let result = op(&lock(&self.store));
        match result {
            Ok(value) => HttpResponse::Ok().insert_header(("Request-Id", crate::ids::request_id())).json(value),
            Err(e) => e.response(),
        }
    }

    /// Runs an operation outside the API (test controls) and sends the webhooks it caused.
    pub(crate) fn control<T>(&self, op: impl FnOnce(&mut Store) -> T) -> T {
        let (result, events) = {
            let mut store = lock(&self.store);
            let result = op(&mut store);
            (result, store.take_new_events())
        };
        for event in &events {
            self.webhooks.enqueue_new(Delivery::from(event));
        }
        result
    }
}
