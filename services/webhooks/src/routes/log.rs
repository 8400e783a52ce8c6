//! The delivery log: every attempt, per endpoint and per event, newest first.

use super::PROBLEM;
use crate::error::WebhooksError;
use crate::store::{deliveries, endpoints, Cursor};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::http::Query;
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The event's id, which is also the `webhook-id` header receivers dedupe by.
    pub event_id: Uuid,
    /// 1 for the first attempt of a round (a replay starts a new round).
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; absent when no answer came (timeout, refused, SSRF guard).
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The first KiB of the answer.
    pub response_body: Option<String>,
    /// Why no answer came.
    pub error: Option<String>,
    pub succeeded: bool,
}

impl From<deliveries::Attempt> for AttemptView {
    fn from(a: deliveries::Attempt) -> Self {
        Self {
            id: a.id,
            endpoint_id: a.endpoint_id,
            event_id: a.event_id,
            attempt: a.attempt,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_body: a.response_body,
            error: a.error,
            succeeded: a.succeeded,
        }
    }
}

async fn page(state: &State, of: deliveries::Of, page: PageQuery) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    if let deliveries::Of::Endpoint(id) = of {
        endpoints::find(&mut conn, id).await?.ok_or(WebhooksError::EndpointNotFound(id))?;
    }
    let rows = deliveries::attempts(&mut conn, of, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |a| Cursor { at: a.attempted_at, id: a.id });
    let data: Vec<AttemptView> = page.data.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// Admins: an endpoint's delivery attempts, newest first.
#[utoipa::path(get, path = "/api/admin/webhooks/endpoints/{id}/attempts", tag = "webhooks", operation_id = "listWebhookEndpointAttempts",
    security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<AttemptView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "invalid_cursor (`cursor`)")))]
pub async fn by_endpoint(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    page(&state, deliveries::Of::Endpoint(id.into_inner()), q.into_inner()).await
}

/// Admins: every endpoint's attempts to deliver one event, newest first.
#[utoipa::path(get, path = "/api/admin/webhooks/events/{event_id}/attempts", tag = "webhooks", operation_id = "listWebhookEventAttempts",
    security(("bearer" = [])), params(("event_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<AttemptView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: `event_id` is not an event id"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "invalid_cursor (`cursor`)")))]
pub async fn by_event(
    state: web::Data<State>,
    principal: Principal,
    event_id: web::Path<Uuid>,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    page(&state, deliveries::Of::Event(event_id.into_inner()), q.into_inner()).await
}
