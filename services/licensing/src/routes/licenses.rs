//! License administration: create (admin), read (admin, or the organisation's org admin), change
//! seats, extend, suspend, reinstate, revoke (admin).

use super::access::{require_admin, require_manager};
use super::organizations::{apply_branding, BrandingBody};
use super::views::{self, LicenseView};
use super::{time_cursor, PROBLEM};
use crate::core::seats::{check_thresholds, release_all, status_of};
use crate::domain::branding::is_domain;
use crate::domain::license::{apply, check_seat_change, Action, Outcome, SeatChangeError, Status, MAX_SEATS};
use crate::domain::license_key::LicenseKey;
use crate::domain::time;
use crate::error::{is_unique_violation, LicensingError};
use crate::store::licenses::{self, License, NewLicense};
use crate::store::organizations;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::licensing::{
    LicenseCreated, LicenseExtended, LicenseReinstated, LicenseRevoked, LicenseSuspended, SeatReleaseReason,
};
use platform::audit::{self, AuditContext};
use platform::auth::{Principal, Role};
use platform::code_hash::CodeHasher;
use platform::http::{Json, Query};
use platform::idempotency::{self, Audited, IdempotencyKey};
use platform::pagination::{Page, PageQuery};
use platform::problem::FieldError;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBody {
    /// 1-200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The organisation's domain, e.g. `acme.com`: the organisation is found (or created) by it.
    #[schema(example = "acme.com")]
    pub domain: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLicense {
    pub organization: OrganizationBody,
    /// 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub seats: i32,
    /// `enterprise` or `pro`.
    #[schema(example = "enterprise")]
    pub tier: String,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`, and in the future.
    pub expires_at: DateTime<Utc>,
    /// White-label branding for the organisation (replaces any it has).
    #[serde(default)]
    pub branding: Option<BrandingBody>,
    /// Sandbox only (`LICENSING_TEST_CLOCKS=true`): a test clock of the caller's own. The license
    /// then expires, and its tickets' SLA timers breach, when the clock passes their times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<Uuid>,
}

impl CreateLicense {
    /// `now`: the time `expires_at` must be after; `None` when the license goes on a test clock,
    /// whose time is only known once the clock is (in the create's transaction).
    fn validate(&self, now: Option<DateTime<Utc>>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut fail =
            |field: &str, message: &str| errors.push(FieldError { field: field.into(), message: message.into() });
        let name = self.organization.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            fail("organization.name", "must be 1-200 characters");
        }
        if !is_domain(&self.organization.domain.trim().to_ascii_lowercase()) {
            fail("organization.domain", "must be a domain name such as acme.com");
        }
        if !(1..=MAX_SEATS).contains(&self.seats) {
            fail("seats", "must be between 1 and 1000000");
        }
        if self.expires_at <= self.starts_at {
            fail("expires_at", "must be after starts_at");
        }
        if now.is_some_and(|now| self.expires_at <= now) {
            fail("expires_at", "must be in the future");
        }
        for (field, at) in [("starts_at", self.starts_at), ("expires_at", self.expires_at)] {
            if !time::in_range(at) {
                fail(field, time::OUT_OF_RANGE);
            }
        }
        errors
    }
}

/// Admins: sell an organisation a license (the organisation is created on first use of its domain).
#[utoipa::path(post, path = "/api/enterprise/licenses/create", tag = "licensing", operation_id = "createLicense",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = CreateLicense,
    responses((status = 201, body = LicenseView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "custom_domain_taken, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (fields, unknown `tier`, branding, `test_clock` not the caller's or test clocks off), idempotency_key_reused")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    key: IdempotencyKey,
    body: Json<CreateLicense>,
) -> Result<HttpResponse, Problem> {
    require_admin(&principal)?;
    let req = body.into_inner();
    let now = state.clock.now();
    let mut errors = req.validate(req.test_clock.is_none().then_some(now));
    if let Some(b) = &req.branding {
        errors.extend(b.validate());
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let scope = format!("{}:POST /api/enterprise/licenses/create", principal.sub);
    let request = req.clone();
    let request_fields = req.clone();
    let codes = state.codes.clone();
    let clocks = state.config.test_clocks;
    let user = principal.user_id()?;
    let audited = Audited { ctx, at: now };
    idempotency::create_audited_concealed(
        &state.pool,
        &scope,
        &key,
        &request,
        LicenseView::conceal_key,
        audited,
        move |conn| {
            Box::pin(async move {
                let clock = attachable(conn, clocks, user, req.test_clock).await?;
                // On a test clock the license lives in the clock's time: "the future" is the
                // clock's, and it is created at the clock's now (the audit trail keeps the real time).
                let at = events::test_clocks::now_of(conn, clock, now).await.map_err(LicensingError::from)?;
                if req.expires_at <= at {
                    return Err(Problem::field("expires_at", "must be in the future"));
                }
                let view = create_in(conn, &codes, req, clock, at).await.map_err(Problem::from)?;
                let changes = serde_json::to_value(&request_fields).unwrap_or_default();
                let action = audit::Action::new("license.create", format!("license:{}", view.id), changes);
                Ok((view, action))
            })
        },
    )
    .await
}

async fn create_in(
    conn: &mut AsyncPgConnection,
    codes: &CodeHasher,
    req: CreateLicense,
    test_clock: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<LicenseView, LicensingError> {
    let tier = req.tier.trim().to_ascii_lowercase();
    if !licenses::tier_exists(conn, &tier).await? {
        return Err(LicensingError::field("tier", "is not a tier licenses are sold at (enterprise, pro)"));
    }
    let domain = req.organization.domain.trim().to_ascii_lowercase();
    let (org, _created) = organizations::find_or_create(conn, req.organization.name.trim(), &domain, now).await?;
    if let Some(branding) = &req.branding {
        apply_branding(conn, org.id, branding, now).await?;
    }
    // 145 random bits: a collision is practically impossible, but a retry costs nothing.
    let mut attempt = 0;
    let (license, key) = loop {
        let key = LicenseKey::generate();
        let hash = codes.hash(key.canonical());
        let prefix = key.prefix();
        let new = NewLicense {
            id: Uuid::now_v7(),
            organization_id: org.id,
            license_key_hash: &hash,
            license_key_prefix: &prefix,
            tier: &tier,
            seats: req.seats,
            status: Status::Active.as_str(),
            starts_at: req.starts_at,
            expires_at: req.expires_at,
            created_at: now,
            updated_at: now,
            test_clock_id: test_clock,
        };
        match licenses::insert(conn, &new).await {
            Err(e) if attempt < 3 && is_unique_violation(&e, "licenses_license_key_hash_key") => attempt += 1,
            other => break (other?, key),
        }
    };
    let license_version = licenses::next_version(conn, license.id).await?;
    events::outbox::enqueue(
        conn,
        &LicenseCreated {
            license_id: license.id,
            organization_id: org.id,
            organization_domain: org.domain.clone(),
            tier: license.tier.clone(),
            seats: license.seats as u32,
            starts_at: license.starts_at,
            expires_at: license.expires_at,
            created_at: now,
            license_version,
        },
    )
    .await?;
    Ok(LicenseView::created(&license, (&org).into(), &key))
}

/// A clock a create may attach to: the caller's own, and only where test clocks are on.
async fn attachable(
    conn: &mut AsyncPgConnection,
    enabled: bool,
    user: Uuid,
    clock: Option<Uuid>,
) -> Result<Option<Uuid>, Problem> {
    let Some(id) = clock else { return Ok(None) };
    if !enabled {
        return Err(Problem::field("test_clock", "test clocks are not enabled here"));
    }
    let owned = events::test_clocks::owned_by(conn, id, user).await.map_err(LicensingError::from)?;
    if owned {
        Ok(Some(id))
    } else {
        Err(Problem::field("test_clock", "no such test clock of yours"))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Admins only: one organisation's licenses.
    pub organization_id: Option<Uuid>,
}

/// Licenses, newest first: admins see all (or one organisation's), org admins their organisation's.
#[utoipa::path(get, path = "/api/enterprise/licenses", tag = "licensing", operation_id = "listLicenses",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<LicenseView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: neither admin nor org admin, or another organisation's `organization_id`"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (query); invalid_cursor (`cursor`)")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<ListQuery>) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let org = if principal.is_admin() {
        q.organization_id
    } else if principal.has_role(Role::OrgAdmin) {
        let own = principal.org_id.ok_or_else(Problem::forbidden)?;
        if q.organization_id.is_some_and(|o| o != own) {
            return Err(Problem::forbidden().with_detail("org admins see their own organization's licenses only"));
        }
        Some(own)
    } else {
        return Err(Problem::forbidden());
    };
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let mut conn = state.pool.get().await?;
    let cursor = time_cursor(&page, |c: &licenses::Cursor| c.at)?;
    let rows = licenses::page(&mut conn, org, cursor, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |l| licenses::Cursor { at: l.created_at, id: l.id });
    let data = views::licenses(&mut conn, &page.data).await?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// The license if the caller manages its organisation (404 otherwise).
pub async fn visible(state: &State, principal: &Principal, id: Uuid) -> Result<License, Problem> {
    let mut conn = state.pool.get().await?;
    let license = licenses::find(&mut conn, id).await?.ok_or(LicensingError::LicenseNotFound)?;
    require_manager(principal, license.organization_id, LicensingError::LicenseNotFound)?;
    Ok(license)
}

/// A license (admins, and the organisation's org admins).
#[utoipa::path(get, path = "/api/enterprise/licenses/{id}", tag = "licensing", operation_id = "getLicense",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id")),
    responses((status = 200, body = LicenseView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found")))]
pub async fn get(state: web::Data<State>, principal: Principal, id: web::Path<Uuid>) -> Result<HttpResponse, Problem> {
    let license = visible(&state, &principal, id.into_inner()).await?;
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(views::license(&mut conn, &license).await?))
}

/// Run an admin change on the locked license and answer with the license as it ends up.
/// The change and the license before and after it go into the audit log in the same transaction.
async fn admin_change<F>(
    state: &State,
    principal: &Principal,
    ctx: AuditContext,
    action: &'static str,
    id: Uuid,
    change: F,
) -> Result<HttpResponse, Problem>
where
    F: for<'c> FnOnce(
            &'c mut AsyncPgConnection,
            License,
            DateTime<Utc>,
        ) -> futures_util::future::BoxFuture<'c, Result<License, LicensingError>>
        + Send
        + 'static,
{
    require_admin(principal)?;
    let now = state.clock.now();
    let view = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let license = licenses::lock(conn, id).await?.ok_or(LicensingError::LicenseNotFound)?;
            let before = audited_fields(&license);
            // A license on a test clock is changed (and judged) in the clock's time.
            let at = events::test_clocks::now_of(conn, license.test_clock_id, now).await?;
            let license = change(conn, license, at).await?;
            let changes = serde_json::json!({ "before": before, "after": audited_fields(&license) });
            audit::record(conn, &ctx, now, audit::Action::new(action, format!("license:{id}"), changes)).await?;
            Ok::<_, LicensingError>(views::license(conn, &license).await?)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// What an admin change can alter, as the audit log shows it before and after.
fn audited_fields(l: &License) -> serde_json::Value {
    serde_json::json!({
        "status": l.status,
        "seats": l.seats,
        "expires_at": l.expires_at,
        "status_reason": l.status_reason,
        "seats_used": l.seats_used,
    })
}

fn refused(status: Status, action: &str) -> LicensingError {
    LicensingError::InvalidTransition(format!("a {} license cannot be {action}", status.as_str()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatCount {
    /// 1 to 1,000,000, and no fewer than the seats in use.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub seats: i32,
}

/// Admins: change a license's seat count.
#[utoipa::path(post, path = "/api/enterprise/licenses/{id}/seat-count", tag = "licensing", operation_id = "changeLicenseSeats",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id")),
    request_body = SeatCount,
    responses((status = 200, body = LicenseView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition, seats_below_usage"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`seats`)")))]
pub async fn change_seats(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: Json<SeatCount>,
) -> Result<HttpResponse, Problem> {
    let seats = body.seats;
    admin_change(&state, &principal, ctx, "license.seats.change", id.into_inner(), move |conn, license, now| {
        Box::pin(async move {
            let status = status_of(&license)?;
            if apply(status, Action::ChangeSeats) == Outcome::Refused {
                return Err(refused(status, "resized"));
            }
            match check_seat_change(seats, license.seats_used) {
                Err(SeatChangeError::OutOfRange) => {
                    return Err(LicensingError::field("seats", "must be between 1 and 1000000"))
                }
                Err(SeatChangeError::BelowUsage) => {
                    return Err(LicensingError::SeatsBelowUsage { in_use: license.seats_used })
                }
                Ok(()) => {}
            }
            let mut updated = licenses::set_seats(conn, license.id, seats, now).await?;
            updated.alert_level = check_thresholds(conn, &updated, now).await?;
            Ok(updated)
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExtendLicense)]
pub struct Extend {
    /// Later than the current expiry (the same value changes nothing).
    pub expires_at: DateTime<Utc>,
}

/// Admins: move a license's expiry later.
#[utoipa::path(post, path = "/api/enterprise/licenses/{id}/extend", tag = "licensing", operation_id = "extendLicense",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id")),
    request_body = Extend,
    responses((status = 200, body = LicenseView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition (e.g. an expired or revoked license)"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`expires_at`)")))]
pub async fn extend(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: Json<Extend>,
) -> Result<HttpResponse, Problem> {
    let expires_at = body.expires_at;
    if !time::in_range(expires_at) {
        return Err(Problem::field("expires_at", time::OUT_OF_RANGE));
    }
    admin_change(&state, &principal, ctx, "license.extend", id.into_inner(), move |conn, license, now| {
        Box::pin(async move {
            let status = status_of(&license)?;
            if apply(status, Action::Extend) == Outcome::Refused {
                return Err(refused(status, "extended; create a new license"));
            }
            if license.expires_at <= now {
                return Err(refused(Status::Expired, "extended; create a new license"));
            }
            if expires_at == license.expires_at {
                return Ok(license);
            }
            if expires_at < license.expires_at {
                return Err(LicensingError::field("expires_at", "must be later than the current expiry"));
            }
            let updated = licenses::set_expiry(conn, license.id, expires_at, now).await?;
            let license_version = licenses::next_version(conn, license.id).await?;
            events::outbox::enqueue(
                conn,
                &LicenseExtended {
                    license_id: license.id,
                    organization_id: license.organization_id,
                    tier: license.tier.clone(),
                    previous_expires_at: license.expires_at,
                    expires_at,
                    extended_at: now,
                    license_version,
                },
            )
            .await?;
            Ok(updated)
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LicenseActionReason)]
pub struct Reason {
    /// At most 500 characters; kept as the license's `status_reason`.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// The optional `{ "reason": ... }` body; an empty body is no reason.
fn reason_of(body: web::Bytes) -> Result<Option<String>, Problem> {
    let body: Reason = if body.iter().all(u8::is_ascii_whitespace) {
        Reason::default()
    } else {
        // Read by hand (an empty body is allowed), checked by the same rules as any JSON body.
        platform::input::from_json_slice("", &body).map_err(|e| Problem::validation(vec![e]))?
    };
    let reason = body.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(Problem::field("reason", "must be at most 500 characters"));
    }
    Ok(reason)
}

/// Admins: suspend a license: no seat activations or certificates until it is reinstated.
#[utoipa::path(post, path = "/api/enterprise/licenses/{id}/suspend", tag = "licensing", operation_id = "suspendLicense",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id")),
    request_body(content = Reason, description = "Optional; an empty body gives no reason"),
    responses((status = 200, body = LicenseView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`reason`)")))]
pub async fn suspend(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let reason = reason_of(body)?;
    admin_change(&state, &principal, ctx, "license.suspend", id.into_inner(), move |conn, license, now| {
        Box::pin(async move {
            let status = status_of(&license)?;
            match apply(status, Action::Suspend) {
                Outcome::Refused => Err(refused(status, "suspended")),
                Outcome::Unchanged => Ok(license),
                Outcome::To(next) => {
                    let updated = licenses::set_status(conn, license.id, next.as_str(), reason.as_deref(), now).await?;
                    let license_version = licenses::next_version(conn, license.id).await?;
                    events::outbox::enqueue(
                        conn,
                        &LicenseSuspended {
                            license_id: license.id,
                            organization_id: license.organization_id,
                            tier: license.tier.clone(),
                            reason,
                            suspended_at: now,
                            license_version,
                        },
                    )
                    .await?;
                    Ok(updated)
                }
            }
        })
    })
    .await
}

/// Admins: reinstate a suspended license that has not expired.
#[utoipa::path(post, path = "/api/enterprise/licenses/{id}/reinstate", tag = "licensing", operation_id = "reinstateLicense",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id")),
    responses((status = 200, body = LicenseView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition")))]
pub async fn reinstate(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    admin_change(&state, &principal, ctx, "license.reinstate", id.into_inner(), move |conn, license, now| {
        Box::pin(async move {
            let status = status_of(&license)?;
            if license.expires_at <= now {
                return Err(refused(Status::Expired, "reinstated"));
            }
            match apply(status, Action::Reinstate) {
                Outcome::Refused => Err(refused(status, "reinstated")),
                Outcome::Unchanged => Ok(license),
                Outcome::To(next) => {
                    let updated = licenses::set_status(conn, license.id, next.as_str(), None, now).await?;
                    let license_version = licenses::next_version(conn, license.id).await?;
                    events::outbox::enqueue(
                        conn,
                        &LicenseReinstated {
                            license_id: license.id,
                            organization_id: license.organization_id,
                            tier: license.tier.clone(),
                            expires_at: license.expires_at,
                            reinstated_at: now,
                            license_version,
                        },
                    )
                    .await?;
                    Ok(updated)
                }
            }
        })
    })
    .await
}

/// Admins: revoke a license for good, releasing every seat.
#[utoipa::path(post, path = "/api/enterprise/licenses/{id}/revoke", tag = "licensing", operation_id = "revokeLicense",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id")),
    request_body(content = Reason, description = "Optional; an empty body gives no reason"),
    responses((status = 200, body = LicenseView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`reason`)")))]
pub async fn revoke(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let reason = reason_of(body)?;
    admin_change(&state, &principal, ctx, "license.revoke", id.into_inner(), move |conn, license, now| {
        Box::pin(async move {
            let status = status_of(&license)?;
            match apply(status, Action::Revoke) {
                Outcome::Refused => Err(refused(status, "revoked")),
                Outcome::Unchanged => Ok(license),
                Outcome::To(next) => {
                    let (released, license) =
                        release_all(conn, &license, SeatReleaseReason::LicenseRevoked, now).await?;
                    let updated = licenses::set_status(conn, license.id, next.as_str(), reason.as_deref(), now).await?;
                    let license_version = licenses::next_version(conn, license.id).await?;
                    events::outbox::enqueue(
                        conn,
                        &LicenseRevoked {
                            license_id: license.id,
                            organization_id: license.organization_id,
                            tier: license.tier.clone(),
                            reason,
                            seats_released: released,
                            revoked_at: now,
                            license_version,
                        },
                    )
                    .await?;
                    Ok(updated)
                }
            }
        })
    })
    .await
}
