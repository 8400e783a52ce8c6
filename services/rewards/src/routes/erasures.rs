//! `POST /api/admin/users/{user_id}/erasure` and `GET /api/admin/erasures/{id}`: admins erase a
//! user everywhere and follow each service's confirmation (issue 18, point 3). Rewards owns the
//! requests; the work is every service's (`events::erasure`).

use super::PROBLEM;
use crate::erasure::{self, ErasureView};
use crate::store::erasures;
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use platform::audit::{self, Action, AuditContext};
use platform::auth::{Principal, Role};
use platform::idempotency::{self, IdempotencyKey};
use platform::Problem;
use uuid::Uuid;

/// Admins: erase a user in every service. Personal data is deleted or pseudonymised; financial
/// records are kept under the user's opaque id. Answers 202 with the request, whose status
/// (`GET /api/admin/erasures/{id}`) becomes `completed` once every service has confirmed.
#[utoipa::path(post, path = "/api/admin/users/{user_id}/erasure", tag = "rewards", operation_id = "requestUserErasure",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The user (JWT `sub`) to erase"),
        ("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    responses((status = 202, body = ErasureView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: the path's user id is not a UUID"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "idempotency_key_reused")))]
pub async fn request(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let user_id = Uuid::parse_str(&path).map_err(|_| Problem::not_found("user"))?;
    let scope = format!("{}:POST /api/admin/users/{user_id}/erasure", principal.sub);
    let now = state.clock.now();
    idempotency::execute(&state.pool, &scope, &key, &user_id, move |conn| {
        Box::pin(async move {
            let view =
                erasure::request(conn, user_id, events::catalog::erasure::ErasureOrigin::Admin, &principal.sub, now)
                    .await?;
            let changes = serde_json::json!({"erasure_id": view.id});
            audit::record(
                conn,
                &audit_ctx,
                now,
                Action::new("user.erasure.request", format!("user:{user_id}"), changes),
            )
            .await?;
            Ok::<_, Problem>((StatusCode::ACCEPTED, view))
        })
    })
    .await
}

/// Admins: an erasure request and each service's part.
#[utoipa::path(get, path = "/api/admin/erasures/{id}", tag = "rewards", operation_id = "getUserErasure",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The erasure request's id")),
    responses((status = 200, body = ErasureView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found")))]
pub async fn get(
    state: web::Data<State>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = Uuid::parse_str(&path).map_err(|_| Problem::not_found("erasure request"))?;
    let mut conn = state.pool.get().await?;
    let (request, confirmations) =
        erasures::find(&mut conn, id).await?.ok_or_else(|| Problem::not_found("erasure request"))?;
    Ok(HttpResponse::Ok().json(ErasureView::new(request, confirmations)))
}
