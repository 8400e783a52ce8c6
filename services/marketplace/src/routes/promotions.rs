//! `POST /api/courses/promotion-codes`: an admin's (platform-funded) or an instructor's (funded
//! from their share, for their own courses) promotion code.

use crate::promotions::{self, NewPromotionCode, PromotionCodeView};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use platform::audit::{self, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::Json;
use platform::idempotency::{self, IdempotencyKey};
use platform::Problem;

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
    principal.require_any(&[Role::Admin, Role::Instructor])?;
    let me = principal.user_id()?;
    let funder = if principal.is_admin() { None } else { Some(me) };
    let req = body.into_inner();
    let scope = format!("{me}:POST /api/courses/promotion-codes");
    let st = state.clone();
    idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            let now = st.clock.now();
            let code = promotions::create(conn, req, me, funder, now).await?;
            let view = PromotionCodeView::new(&code)?;
            let changes = serde_json::json!({ "code": view.code, "funded_by": view.funded_by });
            let action = audit::Action::new("promotion_code.create", format!("promotion_code:{}", view.id), changes);
            audit::record(conn, &ctx, now, action).await?;
            Ok((StatusCode::CREATED, view))
        })
    })
    .await
}
