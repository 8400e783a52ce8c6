//! Course promotion codes: an admin's (platform-funded) or an instructor's (funded from their
//! share, for their own courses), listed and deactivated by whoever may create them (an admin:
//! every code; an instructor: their own).

use crate::promotions::{self, NewPromotionCode, PromotionCodeView};
use crate::store::promotions as store;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::{self, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::{Json, Query};
use platform::idempotency::{self, Audited, IdempotencyKey};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Create a course promotion code. An **admin's** code is funded by the platform (the instructor
/// still earns 70 % of the list price, as with reward vouchers) and may be restricted to courses
/// and/or categories. An **instructor's** code (a caller without the admin role) names its
/// courses, all their own, and its discount comes out of their share (the platform keeps 30 % of
/// the list price). Percent off or an amount per currency, optional redemption limit (never
/// exceeded under concurrency), expiry and first-purchase-only.
#[utoipa::path(post, path = "/api/courses/promotion-codes", tag = "marketplace", operation_id = "createCoursePromotionCode",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; same key + same body replays the first response")),
    request_body = NewPromotionCode,
    responses((status = 201, body = PromotionCodeView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "idempotency_key_required, bad_request (body not valid JSON)"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: neither an admin nor an instructor"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "promotion_code_taken, idempotency_in_progress"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (a field, or a course that is not the instructor's), idempotency_key_reused")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    key: IdempotencyKey,
    body: Json<NewPromotionCode>,
) -> Result<HttpResponse, Problem> {
    let funder = managed_by(&principal)?;
    let me = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{me}:POST /api/courses/promotion-codes");
    let now = state.clock.now();
    let audited = Audited { ctx, at: now };
    idempotency::create_audited(&state.pool, &scope, &key, &req.clone(), audited, move |conn| {
        Box::pin(async move {
            let code = promotions::create(conn, req, me, funder, now).await?;
            let view = PromotionCodeView::new(&code)?;
            let changes = serde_json::json!({ "code": view.code, "funded_by": view.funded_by });
            let action = audit::Action::new("promotion_code.create", format!("promotion_code:{}", view.id), changes);
            Ok((view, action))
        })
    })
    .await
}

/// The codes a caller manages: `None` for an admin (every code), else the instructor's own.
fn managed_by(principal: &Principal) -> Result<Option<Uuid>, Problem> {
    principal.require_any(&[Role::Admin, Role::Instructor])?;
    Ok(if principal.is_admin() { None } else { Some(principal.user_id()?) })
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

/// Course promotion codes, newest first: an admin sees every code, an instructor the codes they
/// fund.
#[utoipa::path(get, path = "/api/courses/promotion-codes", tag = "marketplace", operation_id = "listCoursePromotionCodes",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of promotion codes", body = Page<PromotionCodeView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: neither an admin nor an instructor"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed: unknown query parameter or bad `limit`; invalid_cursor")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    let owner = managed_by(&principal)?;
    let page = q.into_inner();
    let after = page.cursor::<Cursor>()?.map(|c| (c.at, c.id));
    let mut conn = state.pool.get().await?;
    let rows = store::list(&mut conn, owner, after, page.limit() + 1).await?;
    let page = Page::from_rows(rows, page.limit(), |c| Cursor { at: c.code.created_at, id: c.code.id });
    let data = page.data.iter().map(PromotionCodeView::new).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// Deactivate a course promotion code: purchases no longer take it (one holding it keeps its
/// discount). Idempotent: deactivating an inactive code answers the same and records nothing.
/// An instructor deactivates only the codes they fund.
#[utoipa::path(post, path = "/api/courses/promotion-codes/{id}/deactivate", tag = "marketplace",
    operation_id = "deactivateCoursePromotionCode", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The promotion code")),
    responses((status = 200, body = PromotionCodeView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: neither an admin nor an instructor"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such code (an instructor: of theirs)")))]
pub async fn deactivate(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let owner = managed_by(&principal)?;
    let id = id.into_inner();
    let now = state.clock.now();
    let view = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let Some(was_active) = store::deactivate(conn, id, owner).await? else {
                return Err(Problem::not_found("promotion code"));
            };
            let code = store::find(conn, id).await?.ok_or_else(|| Problem::not_found("promotion code"))?;
            let view = PromotionCodeView::new(&code)?;
            if was_active {
                let changes = serde_json::json!({ "code": view.code, "funded_by": view.funded_by });
                let action = audit::Action::new("promotion_code.deactivate", format!("promotion_code:{id}"), changes);
                audit::record(conn, &ctx, now, action).await?;
            }
            Ok(view)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
