//! Organisations: white-label branding (PUT by the org admin or an admin; public lookup by
//! domain, cacheable) and the business hours SLA clocks count in.

use super::access::require_manager;
use super::views::{BrandingView, CustomDomainView, OrganizationView, DAY_NAMES};
use super::PROBLEM;
use crate::domain::branding::{self, BrandingInput, DomainChange};
use crate::domain::sla::{parse_hhmm, BusinessHours};
use crate::error::{is_unique_violation, LicensingError};
use crate::store::organizations::{self, Branding, BusinessHoursRow};
use crate::State;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel_async::AsyncPgConnection;
use platform::audit::{self, AuditContext};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::problem::FieldError;
use platform::Problem;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

/// An organisation with its business hours and branding (admins, and its org admins).
#[utoipa::path(get, path = "/api/enterprise/organizations/{id}", tag = "licensing", operation_id = "getOrganization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = OrganizationView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found")))]
pub async fn get(state: web::Data<State>, principal: Principal, id: web::Path<Uuid>) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    require_manager(&principal, id, LicensingError::OrganizationNotFound)?;
    let mut conn = state.pool.get().await?;
    let org = organizations::find(&mut conn, id).await?.ok_or(LicensingError::OrganizationNotFound)?;
    let branding = organizations::branding_of(&mut conn, id).await?;
    Ok(HttpResponse::Ok().json(OrganizationView::new(&org, branding.as_ref())))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingBody {
    /// 1-100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    /// An `https://` URL.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// `#RRGGBB`.
    #[serde(default)]
    #[schema(example = "#0055FF")]
    pub primary_color: Option<String>,
    /// `#RRGGBB`.
    #[serde(default)]
    pub secondary_color: Option<String>,
    #[serde(default)]
    pub support_email: Option<String>,
    /// The domain the white-labelled app is served on, e.g. `learn.acme.com`; not another
    /// organisation's.
    #[serde(default)]
    pub custom_domain: Option<String>,
}

impl BrandingBody {
    fn custom_domain(&self) -> Option<String> {
        self.custom_domain.as_deref().map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty())
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let domain = self.custom_domain();
        branding::validate(&BrandingInput {
            display_name: &self.display_name,
            logo_url: self.logo_url.as_deref(),
            primary_color: self.primary_color.as_deref(),
            secondary_color: self.secondary_color.as_deref(),
            support_email: self.support_email.as_deref(),
            custom_domain: domain.as_deref(),
        })
    }
}

/// Store validated branding for `org`. A new custom domain is only claimed: stored unverified with
/// a fresh token and never served until `verify` finds the token in DNS. A domain another
/// organisation has verified (or that is another organisation's own domain) is refused; a domain
/// others merely claimed is not, since a claim proves nothing.
pub async fn apply_branding(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    body: &BrandingBody,
    now: DateTime<Utc>,
) -> Result<Branding, LicensingError> {
    let requested = body.custom_domain();
    let current = organizations::lock_branding(conn, org).await?;
    let verified = current.as_ref().and_then(|b| b.custom_domain.clone());
    let pending = current.as_ref().and_then(|b| b.pending_custom_domain.clone());
    let change = branding::domain_change(requested.as_deref(), verified.as_deref(), pending.as_deref());
    if let (DomainChange::Claim, Some(domain)) = (&change, &requested) {
        let own = organizations::owner_of_domain(conn, domain).await?;
        let served = organizations::verified_owner(conn, domain).await?;
        if own.is_some_and(|o| o != org) || served.is_some_and(|o| o != org) {
            return Err(LicensingError::CustomDomainTaken);
        }
    }
    let (custom_domain, pending_custom_domain, custom_domain_token, custom_domain_verified_at) = match change {
        DomainChange::Clear => (None, None, None, None),
        DomainChange::KeepVerified => {
            (verified, None, None, current.as_ref().and_then(|b| b.custom_domain_verified_at))
        }
        DomainChange::KeepPending => {
            (None, pending, current.as_ref().and_then(|b| b.custom_domain_token.clone()), None)
        }
        DomainChange::Claim => (None, requested, Some(verification_token()), None),
    };
    let row = Branding {
        organization_id: org,
        display_name: body.display_name.trim().to_string(),
        logo_url: body.logo_url.clone(),
        primary_color: body.primary_color.as_deref().map(branding::normalize_color),
        secondary_color: body.secondary_color.as_deref().map(branding::normalize_color),
        support_email: body.support_email.as_deref().map(str::trim).map(str::to_string),
        custom_domain,
        updated_at: now,
        pending_custom_domain,
        custom_domain_token,
        custom_domain_verified_at,
    };
    organizations::put_branding(conn, &row).await.map_err(|e| {
        if is_unique_violation(&e, "branding_custom_domain_key") {
            LicensingError::CustomDomainTaken
        } else {
            e.into()
        }
    })
}

/// Replace an organisation's white-label branding (admins, and its org admins).
#[utoipa::path(put, path = "/api/enterprise/organizations/{id}/branding", tag = "licensing", operation_id = "putBranding",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id")),
    request_body = BrandingBody,
    responses((status = 200, body = BrandingView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "custom_domain_taken"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed")))]
pub async fn put_branding(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: Json<BrandingBody>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    require_manager(&principal, id, LicensingError::OrganizationNotFound)?;
    let body = body.into_inner();
    let errors = body.validate();
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let now = state.clock.now();
    let saved = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            organizations::find(conn, id).await?.ok_or(LicensingError::OrganizationNotFound)?;
            let saved = apply_branding(conn, id, &body, now).await?;
            let changes = serde_json::json!({ "after": body });
            let target = format!("organization:{id}");
            audit::record(conn, &ctx, now, audit::Action::new("branding.change", target, changes)).await?;
            Ok::<_, LicensingError>(saved)
        })
    })
    .await?;
    branding_changed(&state);
    Ok(HttpResponse::Ok().json(BrandingView::private(&saved)))
}

/// 256 random bits, hex: what the organisation publishes in its TXT record.
fn verification_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Prove control of the claimed custom domain: its `_monetization-verification.<domain>` TXT
/// record must hold the claim's token. Verified, the domain is served by the public lookup, and
/// every other organisation's claim of it is dropped.
#[utoipa::path(post, path = "/api/enterprise/organizations/{id}/custom-domain/verify", tag = "licensing", operation_id = "verifyCustomDomain",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = CustomDomainView, description = "Verified (or already verified)"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "no_pending_custom_domain, custom_domain_taken (another organisation verified it first), custom_domain_claim_changed"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "domain_verification_failed: no TXT record with the token"),
        (status = 503, body = Problem, content_type = PROBLEM, description = "dns_unavailable: the lookup failed, try again")))]
pub async fn verify_domain(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let org = id.into_inner();
    require_manager(&principal, org, LicensingError::OrganizationNotFound)?;
    let claim = {
        let mut conn = state.pool.get().await?;
        organizations::branding_of(&mut conn, org).await?.ok_or(LicensingError::NoPendingCustomDomain)?
    };
    let (Some(domain), Some(token)) = (claim.pending_custom_domain.clone(), claim.custom_domain_token.clone()) else {
        return match CustomDomainView::of(&claim) {
            Some(verified) => Ok(HttpResponse::Ok().json(verified)),
            None => Err(LicensingError::NoPendingCustomDomain.into()),
        };
    };
    // The lookup runs with no connection or transaction held: DNS may take seconds.
    let name = branding::verification_name(&domain);
    let values = state.dns.txt(&name).await.map_err(|e| LicensingError::DnsUnavailable(e.to_string()))?;
    if !branding::proves(&values, &token) {
        return Err(LicensingError::DomainNotVerified { name }.into());
    }
    let now = state.clock.now();
    let saved = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let current = organizations::lock_branding(conn, org).await?.ok_or(LicensingError::ClaimChanged)?;
            if current.pending_custom_domain.as_deref() != Some(domain.as_str())
                || current.custom_domain_token.as_deref() != Some(token.as_str())
            {
                return Err(LicensingError::ClaimChanged);
            }
            let saved = organizations::mark_verified(conn, org, &domain, now).await.map_err(|e| {
                if is_unique_violation(&e, "branding_custom_domain_key") {
                    LicensingError::CustomDomainTaken
                } else {
                    e.into()
                }
            })?;
            organizations::release_claims(conn, &domain, org).await?;
            Ok::<_, LicensingError>(saved)
        })
    })
    .await?;
    branding_changed(&state);
    tracing::info!(organization_id = %org, domain = %saved.custom_domain.as_deref().unwrap_or_default(), "custom domain verified");
    Ok(HttpResponse::Ok().json(CustomDomainView::of(&saved)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BrandingQuery {
    /// A custom domain, or an organisation's own domain.
    #[param(example = "learn.acme.com")]
    pub domain: String,
}

/// `GET /api/enterprise/branding?domain=` (public): by custom domain, else by the organisation's
/// domain. A strong ETag over the body; `If-None-Match` answers 304.
#[utoipa::path(get, path = "/api/enterprise/branding", tag = "licensing", operation_id = "getPublicBranding",
    security(()),
    summary = "The white-label branding for a domain: by custom domain, else by the organisation's own domain.",
    description = "Cacheable, with a strong ETag; `If-None-Match` answers 304.",
    params(BrandingQuery,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "ETags of copies the client holds")),
    responses((status = 200, body = BrandingView,
            headers(("ETag" = String, description = "Strong; send it back in `If-None-Match`"),
                ("Cache-Control" = String, description = "public, max-age=<seconds>"))),
        (status = 304, description = "The client's copy is current",
            headers(("ETag" = String), ("Cache-Control" = String, description = "public, max-age=<seconds>"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized: a token was sent and is not valid"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no branding for this domain"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`domain`)")))]
pub async fn public_branding(
    state: web::Data<State>,
    req: HttpRequest,
    q: Query<BrandingQuery>,
) -> Result<HttpResponse, Problem> {
    let domain = q.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if !branding::is_domain(&domain) {
        return Err(Problem::field("domain", "must be a domain name"));
    }
    let pool = state.pool.clone();
    let key = domain.clone();
    let PublicBranding { body, etag } = state
        .branding
        .get_or_load(&domain, move || async move {
            let mut conn = pool.get().await?;
            let found =
                organizations::branding_for_domain(&mut conn, &key).await?.ok_or(Problem::not_found("branding"))?;
            PublicBranding::of(&found)
        })
        .await?;
    let cache = format!("public, max-age={}", state.config.branding_max_age_secs);
    if if_none_match(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag.as_ref()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag.as_ref()))
        .insert_header((header::CACHE_CONTROL, cache))
        .content_type("application/json")
        .body(body))
}

/// This replica's branding copies dropped as soon as a change of its own commits, so the caller's
/// next lookup sees it; the tables' triggers tell every replica (this one again, a moment later).
fn branding_changed(state: &State) {
    platform::invalidation::Invalidate::invalidate_all(state.branding.as_ref());
}

/// A domain's public branding as answered: the body and its strong ETag, computed once per copy.
/// Only found domains are kept: an unknown one is asked of the database each time, so a flood of
/// made-up domains cannot fill the cache.
#[derive(Clone)]
pub struct PublicBranding {
    body: web::Bytes,
    etag: Arc<str>,
}

impl PublicBranding {
    fn of(found: &Branding) -> Result<Self, Problem> {
        let body = serde_json::to_vec(&BrandingView::from(found)).map_err(Problem::internal)?;
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
        Ok(Self { body: body.into(), etag: etag.into() })
    }
}

/// RFC 9110: `If-None-Match` compares weakly; `*` matches any current representation.
fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers().get_all(header::IF_NONE_MATCH).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|t| {
        let t = t.trim();
        t == "*" || t.trim_start_matches("W/") == etag
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursBody {
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// `HH:MM`, local time.
    pub start: String,
    /// `HH:MM` (`24:00` = midnight at the end of the day).
    pub end: String,
    /// e.g. `["mon", "tue", "wed", "thu", "fri"]`.
    pub days: Vec<String>,
}

/// Set the business hours that P3/P4 ticket SLA clocks count in; applies to tickets opened afterwards.
#[utoipa::path(put, path = "/api/enterprise/organizations/{id}/business-hours", tag = "licensing", operation_id = "putBusinessHours",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id")),
    request_body = BusinessHoursBody,
    responses((status = 200, body = OrganizationView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`time_zone`, `start`, `end`, `days`, `business_hours`)")))]
pub async fn put_business_hours(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: Json<BusinessHoursBody>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    require_manager(&principal, id, LicensingError::OrganizationNotFound)?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    let tz = Tz::from_str(&body.time_zone).ok();
    if tz.is_none() {
        errors.push(FieldError {
            field: "time_zone".into(),
            message: "must be an IANA time zone such as Europe/Berlin".into(),
        });
    }
    let (start, end) = (parse_hhmm(&body.start), parse_hhmm(&body.end));
    if start.is_none() {
        errors.push(FieldError { field: "start".into(), message: "must be HH:MM between 00:00 and 24:00".into() });
    }
    if end.is_none() {
        errors.push(FieldError { field: "end".into(), message: "must be HH:MM between 00:00 and 24:00".into() });
    }
    let mut days = 0u8;
    for d in &body.days {
        match DAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(d.trim())) {
            Some(i) => days |= 1 << i,
            None => {
                errors.push(FieldError { field: "days".into(), message: format!("{d:?} is not one of {DAY_NAMES:?}") })
            }
        }
    }
    if let (Some(tz), Some(s), Some(e)) = (tz, start, end) {
        if errors.is_empty() {
            if let Err(why) = BusinessHours::new(tz, s, e, days) {
                errors.push(FieldError { field: "business_hours".into(), message: why.into() });
            }
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let row = BusinessHoursRow {
        time_zone: &body.time_zone,
        // At most 1440 (parse_hhmm), so the conversions cannot fail.
        start_minute: start.and_then(|m| i32::try_from(m).ok()).unwrap_or(0),
        end_minute: end.and_then(|m| i32::try_from(m).ok()).unwrap_or(0),
        days: i16::from(days),
    };
    let mut conn = state.pool.get().await?;
    let org =
        organizations::set_business_hours(&mut conn, id, &row).await?.ok_or(LicensingError::OrganizationNotFound)?;
    let branding = organizations::branding_of(&mut conn, id).await?;
    Ok(HttpResponse::Ok().json(OrganizationView::new(&org, branding.as_ref())))
}
