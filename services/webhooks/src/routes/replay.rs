//! Replays: one event to an endpoint again, or every delivery of the endpoint that failed since
//! a time. Each replay starts a new round of the retry schedule.

use super::PROBLEM;
use crate::error::WebhooksError;
use crate::store::{deliveries, endpoints};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::{self as platform_audit, Action, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::Json;
use platform::idempotency::{self, IdempotencyKey};
use platform::problem::FieldError;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Exactly one of `event_id` and `failed_since`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Send this event again (also one the endpoint never had, if it was received).
    pub event_id: Option<Uuid>,
    /// Send again every failed delivery received at or after this instant (RFC 3339).
    pub failed_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplayView {
    pub endpoint_id: Uuid,
    /// Deliveries scheduled again.
    pub replayed: usize,
}

/// Admins: deliver an event again, or every failed delivery since a time.
#[utoipa::path(post, path = "/api/admin/webhooks/endpoints/{id}/replay", tag = "webhooks", operation_id = "replayWebhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = ReplayRequest,
    responses((status = 202, body = ReplayView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request (a body that is not JSON)"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found (the endpoint, or the event was never received)"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (exactly one of `event_id`, `failed_since`), idempotency_key_reused")))]
pub async fn replay(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: Json<ReplayRequest>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let req = body.into_inner();
    if req.event_id.is_some() == req.failed_since.is_some() {
        let message = "give exactly one of event_id and failed_since".to_string();
        return Err(Problem::validation(vec![FieldError { field: "event_id".into(), message }]));
    }
    let scope = format!("{}:POST /api/admin/webhooks/endpoints/{id}/replay", principal.sub);
    let now = state.clock.now();
    idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            endpoints::find(conn, id).await?.ok_or(WebhooksError::EndpointNotFound(id))?;
            let replayed = match (req.event_id, req.failed_since) {
                (Some(event), _) => {
                    let event_type =
                        deliveries::event_exists(conn, event).await?.ok_or(WebhooksError::EventNotFound(event))?;
                    deliveries::replay_one(conn, id, event, &event_type, now).await?;
                    1
                }
                (None, Some(since)) => deliveries::replay_failed(conn, id, since, now).await?,
                (None, None) => 0,
            };
            let changes =
                serde_json::json!({"event_id": req.event_id, "failed_since": req.failed_since, "replayed": replayed});
            platform_audit::record(
                conn,
                &audit_ctx,
                now,
                Action::new("webhooks.replay", format!("webhook_endpoint:{id}"), changes),
            )
            .await?;
            Ok((StatusCode::ACCEPTED, ReplayView { endpoint_id: id, replayed }))
        })
    })
    .await
}
