//! Endpoint CRUD and secret rotation. The signing secret is in the answer of the create and of
//! the rotation only: the idempotency store keeps those answers without it (a replay says
//! `secret: null`), and the database keeps it sealed (`crate::sealing`).

use super::PROBLEM;
use crate::domain::{patterns, signing};
use crate::error::WebhooksError;
use crate::store::{endpoints, Cursor};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::{self as platform_audit, Action, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::{Json, Query};
use platform::idempotency::{self, Audited, IdempotencyKey};
use platform::pagination::{Page, PageQuery};
use platform::problem::FieldError;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;
const MAX_TYPES: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where events are POSTed: `https://` (or `http://`), a public address (the SSRF guard
    /// refuses private, loopback and link-local ones), at most 2048 characters.
    pub url: String,
    /// Catalog event types (`billing.payment.succeeded.v1`) or one service's all (`billing.*`), 1-100.
    pub event_types: Vec<String>,
    /// At most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Re-enabling a disabled endpoint clears its failure record.
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled automatically (it kept failing).
    pub disabled_reason: Option<String>,
    /// Since when its deliveries fail without a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<endpoints::Endpoint> for EndpointView {
    fn from(e: endpoints::Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_...`: verify the `webhook-signature` header with it (Standard Webhooks). Shown only
    /// in the first answer; `null` in an idempotent replay.
    pub secret: Option<String>,
}

fn conceal_secret(body: &mut serde_json::Value) {
    if let Some(view) = body.as_object_mut() {
        view.insert("secret".into(), serde_json::Value::Null);
    }
}

/// Field errors of the parts given; the URL's SSRF check is separate (it resolves the host).
fn validate(url: Option<&str>, types: Option<&[String]>, description: Option<&str>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |field: &str, message: String| errors.push(FieldError { field: field.into(), message });
    if let Some(url) = url {
        if url.len() > MAX_URL {
            push("url", format!("at most {MAX_URL} characters"));
        } else if let Err(e) = crate::guard::parse_url(url) {
            push("url", e);
        }
    }
    if let Some(types) = types {
        if types.is_empty() || types.len() > MAX_TYPES {
            push("event_types", format!("1 to {MAX_TYPES} event types"));
        }
        let catalog = events::catalog::all_event_types();
        for (i, t) in types.iter().enumerate() {
            if let Some(why) = patterns::check(t, &catalog) {
                push(&format!("event_types[{i}]"), why);
            }
        }
    }
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        push("description", format!("at most {MAX_DESCRIPTION} characters"));
    }
    errors
}

async fn guard_url(state: &State, url: &str) -> Result<(), Problem> {
    let parsed = crate::guard::parse_url(url).map_err(WebhooksError::Url)?;
    crate::guard::check(&state.allow, &parsed).await.map_err(WebhooksError::Url)?;
    Ok(())
}

fn dedup(types: &[String]) -> Vec<String> {
    let mut v = types.iter().map(|t| t.trim().to_string()).collect::<Vec<_>>();
    v.sort();
    v.dedup();
    v
}

/// Admins: register an endpoint; the answer carries its signing secret, this once.
#[utoipa::path(post, path = "/api/admin/webhooks/endpoints", tag = "webhooks", operation_id = "createWebhookEndpoint",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response (without the secret)")),
    request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecret),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request (a body that is not JSON)"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`url`: malformed or refused by the SSRF guard, `event_types`, `description`), idempotency_key_reused")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    body: Json<CreateEndpoint>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let req = body.into_inner();
    let errors = validate(Some(&req.url), Some(&req.event_types), req.description.as_deref());
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    guard_url(&state, &req.url).await?;
    let scope = format!("{}:POST {}", principal.sub, super::ENDPOINTS);
    let now = state.clock.now();
    let state2 = state.clone();
    let audited = Audited { ctx: audit_ctx, at: now };
    idempotency::create_audited_concealed(
        &state.pool,
        &scope,
        &key,
        &req.clone(),
        conceal_secret,
        audited,
        move |conn| {
            Box::pin(async move {
                let id = Uuid::now_v7();
                let secret = signing::new_secret();
                let sealed = state2.sealer.seal(id, &secret).map_err(WebhooksError::Internal)?;
                let types = dedup(&req.event_types);
                let description = req.description.as_deref().unwrap_or("").trim();
                let new = endpoints::NewEndpoint {
                    id,
                    url: &req.url,
                    description,
                    event_types: &types,
                    enabled: req.enabled.unwrap_or(true),
                    secret_sealed: &sealed,
                };
                let row = endpoints::insert(conn, &new, now).await.map_err(WebhooksError::from)?;
                let changes =
                    serde_json::json!({"url": row.url, "event_types": row.event_types, "enabled": row.enabled});
                let action = Action::new("webhooks.endpoint.create", format!("webhook_endpoint:{id}"), changes);
                Ok((EndpointWithSecret { endpoint: row.into(), secret: Some(secret) }, action))
            })
        },
    )
    .await
}

/// Admins: the endpoints, newest first.
#[utoipa::path(get, path = "/api/admin/webhooks/endpoints", tag = "webhooks", operation_id = "listWebhookEndpoints",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<EndpointView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "invalid_cursor (`cursor`)")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let page = q.into_inner();
    let mut conn = state.pool.get().await?;
    let rows = endpoints::page(&mut conn, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |e| Cursor { at: e.created_at, id: e.id });
    let data: Vec<EndpointView> = page.data.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// Admins: one endpoint.
#[utoipa::path(get, path = "/api/admin/webhooks/endpoints/{id}", tag = "webhooks", operation_id = "getWebhookEndpoint",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = EndpointView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found")))]
pub async fn get(state: web::Data<State>, principal: Principal, id: web::Path<Uuid>) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let row = endpoints::find(&mut conn, id).await?.ok_or(WebhooksError::EndpointNotFound(id))?;
    Ok(HttpResponse::Ok().json(EndpointView::from(row)))
}

/// Admins: change an endpoint's URL, event types, description or enabled flag.
#[utoipa::path(patch, path = "/api/admin/webhooks/endpoints/{id}", tag = "webhooks", operation_id = "updateWebhookEndpoint",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request (a body that is not JSON)"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`url`, `event_types`, `description`)")))]
pub async fn update(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    id: web::Path<Uuid>,
    body: Json<UpdateEndpoint>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let req = body.into_inner();
    let errors = validate(req.url.as_deref(), req.event_types.as_deref(), req.description.as_deref());
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    if let Some(url) = &req.url {
        guard_url(&state, url).await?;
    }
    let now = state.clock.now();
    let mut conn = state.pool.get().await?;
    let row = diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
        let before = endpoints::lock(conn, id).await?.ok_or(WebhooksError::EndpointNotFound(id))?;
        let reenable = req.enabled == Some(true) && !before.enabled;
        let changes = endpoints::Changes {
            url: req.url.clone(),
            description: req.description.as_ref().map(|d| d.trim().to_string()),
            event_types: req.event_types.as_deref().map(dedup),
            enabled: req.enabled,
            failing_since: reenable.then_some(None),
            disabled_reason: reenable.then_some(None),
        };
        let row = endpoints::update(conn, id, &changes, now).await?;
        let audit = serde_json::json!({"before": {"url": before.url, "event_types": before.event_types, "enabled": before.enabled},
            "after": {"url": row.url, "event_types": row.event_types, "enabled": row.enabled}});
        platform_audit::record(conn, &audit_ctx, now, Action::new("webhooks.endpoint.update", format!("webhook_endpoint:{id}"), audit))
            .await?;
        Ok::<_, Problem>(row)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(row)))
}

/// Admins: delete an endpoint with its deliveries and their log.
#[utoipa::path(delete, path = "/api/admin/webhooks/endpoints/{id}", tag = "webhooks", operation_id = "deleteWebhookEndpoint",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found")))]
pub async fn delete(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let now = state.clock.now();
    let mut conn = state.pool.get().await?;
    diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
        if !endpoints::delete(conn, id).await? {
            return Err(WebhooksError::EndpointNotFound(id).into());
        }
        let action = Action::new("webhooks.endpoint.delete", format!("webhook_endpoint:{id}"), serde_json::json!({}));
        platform_audit::record(conn, &audit_ctx, now, action).await?;
        Ok::<_, Problem>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    pub endpoint_id: Uuid,
    /// The new `whsec_...` secret, shown this once (`null` in an idempotent replay).
    pub secret: Option<String>,
    /// Until then the previous secret signs too (both signatures in `webhook-signature`).
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// Admins: a new signing secret; the previous one keeps signing for the grace period
/// (`WEBHOOKS_ROTATION_GRACE_SECS`, default 24 h), so receivers can switch without a gap.
#[utoipa::path(post, path = "/api/admin/webhooks/endpoints/{id}/rotate-secret", tag = "webhooks", operation_id = "rotateWebhookSecret",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header, description = "Required; replays the first response (without the secret)")),
    responses((status = 201, body = RotatedSecret),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "idempotency_key_reused")))]
pub async fn rotate(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let scope = format!("{}:POST /api/admin/webhooks/endpoints/{id}/rotate-secret", principal.sub);
    let now = state.clock.now();
    let grace = chrono::Duration::seconds(i64::try_from(state.config.rotation_grace_secs).unwrap_or(i64::MAX / 1000));
    let state2 = state.clone();
    let conceal: fn(&mut serde_json::Value) = conceal_secret;
    idempotency::execute_concealed(&state.pool, &scope, &key, &serde_json::json!({}), conceal, move |conn| {
        Box::pin(async move {
            let row = endpoints::lock(conn, id).await?.ok_or(WebhooksError::EndpointNotFound(id))?;
            let secret = signing::new_secret();
            let sealed = state2.sealer.seal(id, &secret).map_err(WebhooksError::Internal)?;
            let until = now + grace;
            endpoints::rotate(conn, id, &sealed, &row.secret_sealed, until, now).await?;
            let action = Action::new(
                "webhooks.endpoint.rotate_secret",
                format!("webhook_endpoint:{id}"),
                serde_json::json!({"previous_secret_expires_at": until}),
            );
            platform_audit::record(conn, &audit_ctx, now, action).await?;
            Ok((
                StatusCode::CREATED,
                RotatedSecret { endpoint_id: id, secret: Some(secret), previous_secret_expires_at: until },
            ))
        })
    })
    .await
}
