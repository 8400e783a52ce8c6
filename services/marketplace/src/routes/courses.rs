//! One course: read (public once published), edit, publish/unpublish (its instructor only), and
//! its package for those with access.

use super::views::{CoursePackageBytes, CourseView};
use crate::domain::course::{normalize_tags, CoursePatch, DRAFT, PUBLISHED, UNPUBLISHED};
use crate::error::MarketError;
use crate::store::courses::{self, Changes, Course};
use crate::store::purchases;
use crate::State;
use actix_web::{web, HttpResponse};
use diesel_async::AsyncPgConnection;
use platform::audit::{self, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::Json;
use platform::Problem;
use uuid::Uuid;

/// Whether `principal` may see `course`: published ones everyone, others their instructor and admins.
fn visible(course: &Course, principal: Option<&Principal>) -> bool {
    course.status == PUBLISHED
        || principal.is_some_and(|p| p.is_admin() || p.user_id().ok() == Some(course.instructor_id))
}

/// One course. Published courses are public; a draft or unpublished one is shown only to its
/// instructor and admins (when signed in), and is a 404 for everyone else.
#[utoipa::path(get, path = "/api/courses/{id}", tag = "marketplace", operation_id = "getCourse", security(()),
    params(("id" = Uuid, Path, description = "Course id")),
    responses((status = 200, body = CourseView),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course, or not visible to the caller")))]
pub async fn get(
    state: web::Data<State>,
    principal: Option<Principal>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let course = courses::find(&conn, id.into_inner()).await?.ok_or(MarketError::CourseNotFound)?;
    if !visible(&course, principal.as_ref()) {
        return Err(MarketError::CourseNotFound.into());
    }
    Ok(HttpResponse::Ok().json(CourseView::one(&mut conn, &course).await?))
}

/// Lock the course for a change by its instructor. Others get 403 for a published course and 404
/// for one they cannot see.
async fn lock_own(conn: &mut AsyncPgConnection, principal: &Principal, id: Uuid) -> Result<Course, Problem> {
    principal.require_any(&[Role::Instructor])?;
    let course = courses::lock(conn, id).await?.ok_or(MarketError::CourseNotFound)?;
    if principal.user_id().ok() != Some(course.instructor_id) {
        return Err(
            if course.status == PUBLISHED { MarketError::NotCourseOwner } else { MarketError::CourseNotFound }.into()
        );
    }
    Ok(course)
}

/// Edit a course's metadata (its instructor only); every field is optional.
#[utoipa::path(patch, path = "/api/courses/{id}", tag = "marketplace", operation_id = "updateCourse",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id")),
    request_body = CoursePatch,
    responses((status = 200, body = CourseView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: the body is not valid JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: not an instructor, or another instructor's published course"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course (or another instructor's unpublished one)"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed: invalid or unknown fields")))]
pub async fn patch(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: Json<CoursePatch>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    let patch = body.into_inner();
    let errors = patch.validate();
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let now = state.clock.now();
    let course = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let before = lock_own(conn, &principal, id).await?;
            let changes = Changes {
                title: patch.title.map(|t| t.trim().to_string()),
                description: patch.description.map(|d| d.trim().to_string()),
                category: patch.category,
                level: patch.level,
                language: patch.language,
                tags: patch.tags.as_deref().map(normalize_tags),
                price: patch.price.map(|p| p.amount),
                currency: patch.price.map(|p| p.currency.code().to_string()),
                updated_at: Some(now),
            };
            let after = courses::update(conn, id, &changes).await?;
            if let Some(prices) = &patch.prices {
                let primary = super::views::money(after.price, &after.currency)?;
                let errors = crate::domain::course::check_other_prices(&primary, prices);
                if !errors.is_empty() {
                    return Err(Problem::validation(errors));
                }
            }
            let others = patch
                .prices
                .as_ref()
                .map(|ps| ps.iter().map(|p| (p.currency.code().to_string(), p.amount)).collect::<Vec<_>>());
            courses::set_other_prices(conn, &after, others.as_deref()).await?;
            // A price change is what buyers pay from now on: audited. Other edits are content.
            if (&before.price, &before.currency) != (&after.price, &after.currency) {
                let changes = serde_json::json!({
                    "before": { "price": before.price.to_string(), "currency": before.currency.trim() },
                    "after": { "price": after.price.to_string(), "currency": after.currency.trim() },
                });
                let action = audit::Action::new("course.price.change", format!("course:{id}"), changes);
                audit::record(conn, &ctx, now, action).await?;
            }
            CourseView::one(conn, &after).await
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(course))
}

/// Publish a course (its instructor only): it enters the catalogue and can be bought. Idempotent.
#[utoipa::path(post, path = "/api/courses/{id}/publish", tag = "marketplace", operation_id = "publishCourse",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id")),
    responses((status = 200, body = CourseView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: not an instructor, or another instructor's published course"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course (or another instructor's unpublished one)")))]
pub async fn publish(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    set_status(state, principal, ctx, id.into_inner(), PUBLISHED).await
}

/// Unpublish a course (its instructor only): hidden from the catalogue and new buyers; owners
/// keep access. Idempotent; a draft stays a draft.
#[utoipa::path(post, path = "/api/courses/{id}/unpublish", tag = "marketplace", operation_id = "unpublishCourse",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id")),
    responses((status = 200, body = CourseView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: not an instructor, or another instructor's published course"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course (or another instructor's unpublished one)")))]
pub async fn unpublish(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    set_status(state, principal, ctx, id.into_inner(), UNPUBLISHED).await
}

/// Publishing is idempotent; unpublishing hides the course from the catalogue and from new
/// buyers, while its owners keep access.
async fn set_status(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: Uuid,
    to: &'static str,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let course = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let course = lock_own(conn, &principal, id).await?;
            if course.status == to || (to == UNPUBLISHED && course.status == DRAFT) {
                return Ok::<_, Problem>(course);
            }
            let published_at = if to == PUBLISHED { course.published_at.or(Some(now)) } else { course.published_at };
            let changed = courses::set_status(conn, id, to, published_at, now).await?;
            let changes = serde_json::json!({ "before": { "status": course.status }, "after": { "status": to } });
            let action = if to == PUBLISHED { "course.publish" } else { "course.unpublish" };
            audit::record(conn, &ctx, now, audit::Action::new(action, format!("course:{id}"), changes)).await?;
            Ok(changed)
        })
    })
    .await?;
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(CourseView::one(&mut conn, &course).await?))
}

/// The package, for its instructor, admins and buyers with access.
#[utoipa::path(get, path = "/api/courses/{id}/content", tag = "marketplace", operation_id = "downloadCourseContent",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id")),
    responses((status = 200, body = CoursePackageBytes, content_type = "application/octet-stream",
            description = "The package bytes, sent with the package's own Content-Type (e.g. `application/zip`, `application/pdf`, `video/mp4`)",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"<package file name>\"`"),
                ("X-Content-SHA256" = String, description = "Hex SHA-256 of the package"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: buy the course to download it"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course, or not visible to the caller")))]
pub async fn content(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let course = courses::find(&conn, id.into_inner()).await?.ok_or(MarketError::CourseNotFound)?;
    let user = principal.user_id().ok();
    let allowed = principal.is_admin()
        || user == Some(course.instructor_id)
        || match user {
            Some(u) => purchases::owns(&mut conn, u, course.id).await?,
            None => false,
        };
    drop(conn);
    if !allowed {
        return Err(if visible(&course, Some(&principal)) {
            Problem::forbidden().with_detail("buy the course to download it")
        } else {
            MarketError::CourseNotFound.into()
        });
    }
    // Streamed chunk by chunk (`content::CHUNK`), with the length known up front.
    let package = state.content.open(&course.content_key).await.map_err(Problem::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(course.content_type.clone())
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{}\"", course.content_filename)))
        .insert_header(("X-Content-SHA256", course.content_sha256.clone()))
        .no_chunking(package.size)
        .streaming(package.chunks))
}
