//! Signed license certificates and the public key that verifies them.

use super::licenses::visible;
use super::PROBLEM;
use crate::certificate::{CertificateClaims, CertificateOrganization, AUDIENCE, ISSUER};
use crate::core::seats::status_of;
use crate::domain::license::check_usable;
use crate::error::LicensingError;
use crate::store::organizations;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use platform::auth::Principal;
use platform::Problem;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LicenseCertificate)]
pub struct CertificateView {
    /// A JWT (EdDSA) whose claims describe the license; verify it with the public key.
    pub certificate: String,
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    /// The id of the signing key.
    pub kid: String,
    /// When the certificate stops being valid: the license's expiry, or sooner.
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/enterprise/licenses/{id}/certificate` (admin, the organisation's org admin): an
/// EdDSA JWT valid until the license expires, at most `certificate_max_days` (clients refresh it,
/// and so learn of a revocation).
#[utoipa::path(get, path = "/api/enterprise/licenses/{id}/certificate", tag = "licensing", operation_id = "getLicenseCertificate",
    security(("bearer" = [])),
    summary = "A signed certificate of a usable license (admins, and the organisation's org admins).",
    description = "An EdDSA JWT valid until the license expires, or for a limited number of days: clients refresh it, and so learn of a suspension or revocation.",
    params(("id" = Uuid, Path, description = "License id")),
    responses((status = 200, body = CertificateView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden (a member of the organisation without the org admin role), license_expired, license_suspended, license_revoked, license_not_yet_valid"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found")))]
pub async fn certificate(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let license = visible(&state, &principal, id.into_inner()).await?;
    let now = state.clock.now();
    check_usable(status_of(&license)?, license.starts_at, license.expires_at, now).map_err(LicensingError::from)?;
    let mut conn = state.pool.get().await?;
    let org =
        organizations::find(&mut conn, license.organization_id).await?.ok_or(LicensingError::OrganizationNotFound)?;
    let exp = license.expires_at.min(now + Duration::days(state.config.certificate_max_days.clamp(1, 3650)));
    let claims = CertificateClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: license.id.to_string(),
        jti: Uuid::now_v7().to_string(),
        iat: now.timestamp(),
        nbf: license.starts_at.timestamp(),
        exp: exp.timestamp(),
        organization: CertificateOrganization { id: org.id, name: org.name, domain: org.domain },
        tier: license.tier.clone(),
        seats: license.seats as u32,
        license_starts_at: license.starts_at,
        license_expires_at: license.expires_at,
    };
    let token = state.signer.sign(&claims).map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(CertificateView {
        certificate: token,
        alg: "EdDSA",
        kid: state.signer.kid.clone(),
        expires_at: exp,
    }))
}

/// The verification key as a JWK (RFC 8037).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicJwk {
    #[schema(example = "OKP")]
    pub kty: &'static str,
    #[schema(example = "Ed25519")]
    pub crv: &'static str,
    /// The raw public key, base64url.
    pub x: String,
    pub kid: String,
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CertificatePublicKey)]
pub struct PublicKeyView {
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    pub kid: String,
    /// The certificates' `iss`.
    pub issuer: &'static str,
    /// The certificates' `aud`.
    pub audience: &'static str,
    /// The key as PEM.
    pub pem: String,
    pub jwk: PublicJwk,
}

/// The public key that verifies license certificates, as PEM and JWK. Cacheable for an hour.
#[utoipa::path(get, path = "/api/enterprise/licenses/public-key", tag = "licensing", operation_id = "getCertificatePublicKey",
    security(()),
    responses((status = 200, body = PublicKeyView, headers(("Cache-Control" = String, description = "public, max-age=3600"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized: a token was sent and is not valid")))]
pub async fn public_key(state: web::Data<State>) -> HttpResponse {
    let s = &state.signer;
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=3600")).json(PublicKeyView {
        alg: "EdDSA",
        kid: s.kid.clone(),
        issuer: ISSUER,
        audience: AUDIENCE,
        pem: s.public_pem.clone(),
        jwk: PublicJwk {
            kty: "OKP",
            crv: "Ed25519",
            x: s.public_x.clone(),
            kid: s.kid.clone(),
            alg: "EdDSA",
            use_: "sig",
        },
    })
}
