//! Seats: activation by any signed-in user holding the key, release by the seat's user, the
//! organisation's org admin or an admin.

use super::access::{manages, require_manager};
use super::views::SeatView;
use super::{time_cursor, OptionalIdempotencyKey, PROBLEM};
use crate::core;
use crate::domain::license::{check_usable, Status, MAX_SEATS};
use crate::domain::license_key::LicenseKey;
use crate::domain::usage;
use crate::error::LicensingError;
use crate::store::activation::{self, ActivateOnce};
use crate::store::{licenses, seats};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, SubsecRound, Utc};
use events::catalog::licensing::{SeatActivated, SeatReleaseReason, UsageThresholdReached};
use platform::audit::{self, AuditContext};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::idempotency::{self, Claim, Ended};
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
    // Microseconds, as the database keeps it: the answer and the event say what the row says.
    let now = state.clock.now().trunc_subsecs(6);
    let scope = format!("{user}:POST /api/enterprise/licenses/activate");
    let claim = key.0.as_ref().map(|k| Claim::new(&scope, k, &req));
    // Only keyed hashes are stored: the license is looked up by the key's hash under every
    // configured hash key (a match under a previous one moves to the current one).
    let key_hashes = state.codes.candidates(license_key.canonical());
    // Everything but what comes from the license row, which the statement fills in (placeholders
    // here: nil ids, empty tier, zero counts).
    let seat = SeatActivated {
        seat_id: Uuid::now_v7(),
        user_id: user,
        license_id: Uuid::nil(),
        organization_id: Uuid::nil(),
        tier: String::new(),
        seat_number: 0,
        expires_at: now,
        activated_at: now,
        license_version: 0,
    };
    let thresholds: Vec<UsageThresholdReached> = usage::THRESHOLDS
        .iter()
        .map(|&threshold_percent| UsageThresholdReached {
            license_id: Uuid::nil(),
            organization_id: Uuid::nil(),
            threshold_percent,
            seats: 0,
            seats_used: 0,
            reached_at: now,
        })
        .collect();
    let answer = serde_json::to_value(ActivationView {
        seat: SeatView {
            id: seat.seat_id,
            license_id: Uuid::nil(),
            user_id: user,
            seat_number: 0,
            activated_at: now,
            released_at: None,
            release_reason: None,
        },
        organization_id: Uuid::nil(),
        tier: String::new(),
        expires_at: now,
        created: true,
    })
    .map_err(Problem::internal)?;
    let mut conn = state.pool.get().await?;
    let returned = activation::activate_seat_once(
        &mut conn,
        &ActivateOnce {
            claim: claim.as_ref(),
            key_hashes: &key_hashes,
            user,
            seat: &seat,
            thresholds: &thresholds,
            answer: &answer,
        },
    )
    .await?;
    match idempotency::ended(returned)? {
        Ended::Answer(response) => Ok(response),
        Ended::Refused(outcome, details) => Err(match outcome.as_str() {
            "license_not_found" => LicensingError::LicenseNotFound.into(),
            "seat_limit_reached" => LicensingError::SeatLimitReached.into(),
            "unusable" => unusable(details, now),
            other => Problem::internal(format!("activate_seat_once answered {other:?}")),
        }),
    }
}

/// Why the statement found the license unusable: `check_usable` names the reason from the row's
/// status and dates.
fn unusable(details: Option<serde_json::Value>, now: DateTime<Utc>) -> Problem {
    #[derive(Debug, Deserialize)]
    struct Row {
        status: String,
        starts_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    }
    let row = match details.map(serde_json::from_value::<Row>) {
        Some(Ok(row)) => row,
        other => return Problem::internal(format!("unusable without its row: {other:?}")),
    };
    let Some(status) = Status::parse(&row.status) else {
        return Problem::internal(format!("bad status {}", row.status));
    };
    match check_usable(status, row.starts_at, row.expires_at, now) {
        Err(reason) => LicensingError::from(reason).into(),
        Ok(()) => Problem::internal("activate_seat_once refused a usable license"),
    }
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
    params(("id" = Uuid, Path, description = "License id"), PageQuery),
    responses((status = 200, body = Page<SeatView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`cursor`, query)")))]
pub async fn list(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = q.into_inner();
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
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<SeatView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`cursor`, query)")))]
pub async fn mine(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let page = q.into_inner();
    let cursor = time_cursor(&page, |c: &seats::Cursor| c.at)?;
    let mut conn = state.pool.get().await?;
    let rows = seats::page_for_user(&mut conn, user, cursor, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |s| seats::Cursor { at: s.activated_at, id: s.id });
    Ok(HttpResponse::Ok()
        .json(Page { data: page.data.iter().map(SeatView::from).collect(), next_cursor: page.next_cursor }))
}
