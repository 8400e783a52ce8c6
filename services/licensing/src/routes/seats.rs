//! Seats: activation by any signed-in user holding the key, release by the seat's user, the
//! organisation's org admin or an admin.

use super::access::{manages, require_manager};
use super::views::SeatView;
use super::{run_once, time_cursor, OptionalIdempotencyKey, PageParams, PROBLEM};
use crate::core;
use crate::domain::license::MAX_SEATS;
use crate::domain::license_key::LicenseKey;
use crate::error::LicensingError;
use crate::store::{licenses, seats};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use events::catalog::licensing::SeatReleaseReason;
use platform::audit::{self, AuditContext};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ActivateSeat)]
pub struct Activate {
    /// 30 characters (0-9, A-Z without I, L, O, U), grouped in fives with dashes or not.
    pub license_key: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SeatActivation)]
pub struct ActivationView {
    pub seat: SeatView,
    pub organization_id: Uuid,
    pub tier: String,
    pub expires_at: DateTime<Utc>,
    /// False when the caller already held this seat (the call changed nothing).
    pub created: bool,
}

/// Take a seat on the license whose key the caller holds (201), or get the one already held (200).
#[utoipa::path(post, path = "/api/enterprise/licenses/activate", tag = "licensing", operation_id = "activateSeat",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Optional (activation is naturally idempotent); with it, a retry replays the first response")),
    request_body = Activate,
    responses((status = 201, body = ActivationView, description = "A seat was taken"),
        (status = 200, body = ActivationView, description = "The caller already held a seat"),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden (the caller is not a user), license_expired, license_suspended, license_revoked, license_not_yet_valid"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no license has this key"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "seat_limit_reached, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "invalid_license_key (malformed, or a mistyped character), validation_failed, idempotency_key_reused"),
        (status = 503, body = Problem, content_type = PROBLEM, description = "overloaded: no database connection became free within the pool wait (`<S>_DATABASE_POOL_WAIT_MS`); nothing was written; retry after `Retry-After` seconds")))]
pub async fn activate(
    state: web::Data<State>,
    principal: Principal,
    key: OptionalIdempotencyKey,
    body: Json<Activate>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    // The check character catches typos before any lookup.
    let license_key = LicenseKey::parse(&req.license_key).map_err(LicensingError::InvalidKey)?;
    let now = state.clock.now();
    let scope = format!("{user}:POST /api/enterprise/licenses/activate");
    let codes = state.codes.clone();
    run_once(&state.pool, &scope, key.0.as_ref(), &req, move |conn| {
        Box::pin(async move {
            // Only keyed hashes are stored: look up by the key's hash under every configured
            // hash key. The lock serialises activations of one license: the seat count is
            // checked and bumped while no one else can.
            let hashes = codes.candidates(license_key.canonical());
            let license = licenses::lock_by_key_hash(conn, &hashes).await?.ok_or(LicensingError::LicenseNotFound)?;
            if license.license_key_hash != hashes[0] {
                // Matched under a previous hash key: move it to the current one while we hold it.
                licenses::rehash_key(conn, license.id, &hashes[0]).await?;
            }
            let (seat, created) = core::seats::activate(conn, &license, user, now).await?;
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((
                status,
                ActivationView {
                    seat: (&seat).into(),
                    organization_id: license.organization_id,
                    tier: license.tier.clone(),
                    expires_at: license.expires_at,
                    created,
                },
            ))
        })
    })
    .await
}

/// Give a seat back: the seat's user, the organisation's org admins and admins may.
#[utoipa::path(delete, path = "/api/enterprise/licenses/{id}/seats/{user_id}", tag = "licensing", operation_id = "releaseSeat",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id"), ("user_id" = Uuid, Path, description = "The seat's user")),
    responses((status = 200, body = SeatView, description = "The released seat"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such license, or no active seat of this user the caller may release")))]
pub async fn release(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Problem> {
    let (license_id, user) = path.into_inner();
    let caller = principal.user_id().ok();
    let now = state.clock.now();
    let seat = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let license = licenses::lock(conn, license_id).await?.ok_or(LicensingError::LicenseNotFound)?;
            let reason = if caller == Some(user) {
                SeatReleaseReason::ReleasedByUser
            } else if principal.is_admin() {
                SeatReleaseReason::ReleasedByAdmin
            } else if manages(&principal, license.organization_id) {
                SeatReleaseReason::ReleasedByOrgAdmin
            } else {
                return Err(LicensingError::SeatNotFound);
            };
            let seat = seats::active_of_user(conn, license.id, user).await?.ok_or(LicensingError::SeatNotFound)?;
            let (released, _) = core::seats::release(conn, &license, &seat, reason, now).await?;
            // Someone releasing another member's seat is a privileged action; a member's own is not.
            if reason != SeatReleaseReason::ReleasedByUser {
                let changes = serde_json::json!({ "user_id": user, "reason": reason.as_str() });
                let target = format!("license:{license_id}");
                audit::record(conn, &ctx, now, audit::Action::new("seat.release", target, changes)).await?;
            }
            Ok::<_, LicensingError>(released)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(SeatView::from(&seat)))
}

/// A license's active seats by seat number, a page at a time (admins, and the organisation's org admins).
#[utoipa::path(get, path = "/api/enterprise/licenses/{id}/seats", tag = "licensing", operation_id = "listSeats",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id"), PageParams),
    responses((status = 200, body = Page<SeatView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`cursor`, query)")))]
pub async fn list(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    q: Query<PageParams>,
) -> Result<HttpResponse, Problem> {
    let page = PageQuery::from(q.into_inner());
    let cursor: Option<seats::NumberCursor> = page.cursor()?;
    if cursor.as_ref().is_some_and(|c| !(0..=MAX_SEATS).contains(&c.n)) {
        return Err(Problem::field("cursor", "is not a cursor this API issued"));
    }
    let mut conn = state.pool.get().await?;
    let license = licenses::find(&mut conn, id.into_inner()).await?.ok_or(LicensingError::LicenseNotFound)?;
    require_manager(&principal, license.organization_id, LicensingError::LicenseNotFound)?;
    let rows = seats::page_of_license(&mut conn, license.id, cursor, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |s| seats::NumberCursor { n: s.seat_number });
    Ok(HttpResponse::Ok()
        .json(Page { data: page.data.iter().map(SeatView::from).collect(), next_cursor: page.next_cursor }))
}

/// The caller's active seats, on any license, newest first.
#[utoipa::path(get, path = "/api/enterprise/seats/me", tag = "licensing", operation_id = "listMySeats",
    security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<SeatView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`cursor`, query)")))]
pub async fn mine(
    state: web::Data<State>,
    principal: Principal,
    q: Query<PageParams>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let page = PageQuery::from(q.into_inner());
    let cursor = time_cursor(&page, |c: &seats::Cursor| c.at)?;
    let mut conn = state.pool.get().await?;
    let rows = seats::page_for_user(&mut conn, user, cursor, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |s| seats::Cursor { at: s.activated_at, id: s.id });
    Ok(HttpResponse::Ok()
        .json(Page { data: page.data.iter().map(SeatView::from).collect(), next_cursor: page.next_cursor }))
}
