//! Signed license certificates and the public key that verifies them.

use super::licenses::visible;
use crate::certificate::{CertificateClaims, CertificateOrganization, AUDIENCE, ISSUER};
use crate::core::seats::status_of;
use crate::domain::license::check_usable;
use crate::error::LicensingError;
use crate::store::organizations;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::Duration;
use platform::auth::Principal;
use platform::Problem;
use uuid::Uuid;

/// `GET /api/enterprise/licenses/{id}/certificate` (admin, the organisation's org admin): an
/// EdDSA JWT valid until the license expires, at most `certificate_max_days` (clients refresh it,
/// and so learn of a revocation).
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
    let exp = license.expires_at.min(now + Duration::days(state.config.certificate_max_days.max(1)));
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
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(serde_json::json!({
        "certificate": token,
        "alg": "EdDSA",
        "kid": state.signer.kid,
        "expires_at": exp,
    })))
}

/// `GET /api/enterprise/licenses/public-key` (public): PEM and JWK of the verification key.
pub async fn public_key(state: web::Data<State>) -> HttpResponse {
    let s = &state.signer;
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=3600")).json(serde_json::json!({
        "alg": "EdDSA",
        "kid": s.kid,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "pem": s.public_pem,
        "jwk": { "kty": "OKP", "crv": "Ed25519", "x": s.public_x, "kid": s.kid, "alg": "EdDSA", "use": "sig" },
    }))
}
