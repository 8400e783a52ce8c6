//! Internal tokens: the only credential a service accepts.
//!
//! The gateway verifies the client's JWT, then mints a short-lived HS256 token for the one service
//! it forwards to (`aud` = that service). Services calling each other mint their own with
//! `sub = service:<name>` and the `service` role. A request that reaches a service without one is
//! anonymous, and every non-public handler asks for a [`Principal`], so it is refused with 401.

use crate::config::Secret;
use crate::http::RequestId;
use crate::problem::Problem;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::future::{ready, Ready};
use uuid::Uuid;

pub const INTERNAL_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-internal-token");
const ISSUER: &str = "monetization-internal";
/// Internal tokens live at most this long: long enough for one hop, too short to be worth stealing.
pub const INTERNAL_TOKEN_TTL_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Learner,
    Instructor,
    Admin,
    OrgAdmin,
    Service,
}

/// Claims of an internal token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InternalClaims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    pub aud: String,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// Who is calling: a user (sub is their UUID) or another service (`service:<name>`).
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub sub: String,
    pub roles: Vec<Role>,
    pub org_id: Option<Uuid>,
    pub request_id: Option<String>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), Problem> {
        if roles.iter().any(|r| self.has_role(*r)) {
            Ok(())
        } else {
            Err(Problem::forbidden())
        }
    }

    /// The caller's user id; a service principal has none (403 on user-only endpoints).
    pub fn user_id(&self) -> Result<Uuid, Problem> {
        Uuid::parse_str(&self.sub).map_err(|_| Problem::forbidden())
    }

    /// Only for internal endpoints: the caller must be a service.
    pub fn require_service(&self) -> Result<(), Problem> {
        if self.sub.starts_with("service:") && self.has_role(Role::Service) {
            Ok(())
        } else {
            Err(Problem::forbidden())
        }
    }
}

/// Mints and verifies internal tokens with the shared secret.
#[derive(Clone)]
pub struct InternalAuth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The secret being rotated out: still accepted, never used to sign.
    previous: Option<DecodingKey>,
    /// The service this process is (`aud` it accepts).
    audience: String,
}

impl InternalAuth {
    pub fn new(secret: &Secret, audience: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            previous: None,
            audience: audience.to_string(),
        }
    }

    /// Also accept tokens signed with `previous` during a secret rotation: roll out the new secret
    /// everywhere with the old one as previous, then drop the previous one.
    pub fn with_previous(mut self, previous: Option<&Secret>) -> Self {
        self.previous = previous.map(|p| DecodingKey::from_secret(p.expose().as_bytes()));
        self
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// A token for calling `target` as `sub` (the gateway forwards users; services call as themselves).
    pub fn mint(
        &self,
        target: &str,
        sub: &str,
        roles: &[Role],
        org_id: Option<Uuid>,
        request_id: Option<&str>,
    ) -> Result<String, Problem> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = InternalClaims {
            sub: sub.to_string(),
            roles: roles.to_vec(),
            org_id,
            rid: request_id.map(str::to_string),
            aud: target.to_string(),
            iss: ISSUER.to_string(),
            iat: now,
            exp: now + INTERNAL_TOKEN_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(Problem::internal)
    }

    /// A token for this service calling `target` as itself.
    pub fn mint_service(&self, target: &str) -> Result<String, Problem> {
        let sub = format!("service:{}", self.audience);
        self.mint(target, &sub, &[Role::Service], None, None)
    }

    pub fn verify(&self, token: &str) -> Result<Principal, Problem> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = 5;
        let decoded = jsonwebtoken::decode::<InternalClaims>(token, &self.decoding, &validation);
        let decoded = match (&decoded, &self.previous) {
            (Err(e), Some(previous)) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                jsonwebtoken::decode::<InternalClaims>(token, previous, &validation)
            }
            _ => decoded,
        };
        let data = decoded.map_err(|e| Problem::unauthorized(format!("invalid internal token: {e}")))?;
        let c = data.claims;
        if c.exp > c.iat + INTERNAL_TOKEN_TTL_SECS + 5 {
            return Err(Problem::unauthorized("internal token lives too long"));
        }
        Ok(Principal { sub: c.sub, roles: c.roles, org_id: c.org_id, request_id: c.rid })
    }
}

/// Middleware: verify an internal token when one is sent (a bad one is a 401 even on public routes)
/// and put the [`Principal`] in the request extensions for the extractor.
pub async fn internal_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Some(value) = req.headers().get(&INTERNAL_TOKEN_HEADER) {
        let auth = req
            .app_data::<web::Data<InternalAuth>>()
            .ok_or_else(|| Problem::internal("InternalAuth is not configured"))?;
        let token = value.to_str().map_err(|_| Problem::unauthorized("malformed internal token"))?;
        let principal = auth.verify(token)?;
        req.extensions_mut().insert(principal);
    }
    next.call(req).await
}

impl FromRequest for Principal {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<Principal>().cloned();
        ready(
            found
                .map(|mut p| {
                    if p.request_id.is_none() {
                        p.request_id = Some(RequestId::of(req));
                    }
                    p
                })
                .ok_or_else(|| Problem::unauthorized("this endpoint requires a signed-in caller")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_audience_is_enforced() {
        let secret = Secret::new("test-secret-of-reasonable-length");
        let gateway = InternalAuth::new(&secret, "gateway");
        let billing = InternalAuth::new(&secret, "billing");
        let rewards = InternalAuth::new(&secret, "rewards");
        let user = Uuid::now_v7();
        let token = gateway.mint("billing", &user.to_string(), &[Role::Learner], None, Some("rid-1")).expect("mint");
        let p = billing.verify(&token).expect("billing accepts");
        assert_eq!(p.user_id().expect("uuid"), user);
        assert_eq!(p.request_id.as_deref(), Some("rid-1"));
        assert!(p.require_any(&[Role::Admin]).is_err());
        assert!(rewards.verify(&token).is_err(), "a token for billing is refused by rewards");
        let other = InternalAuth::new(&Secret::new("another-secret-entirely"), "billing");
        assert!(other.verify(&token).is_err(), "wrong secret refused");
    }

    #[test]
    fn the_previous_secret_is_accepted_during_rotation() {
        let old = Secret::new("old-secret-being-rotated-out");
        let new = Secret::new("new-secret-rolled-out-first");
        let gateway_old = InternalAuth::new(&old, "gateway");
        let billing = InternalAuth::new(&new, "billing").with_previous(Some(&old));
        let token = gateway_old.mint("billing", "service:x", &[Role::Service], None, None).expect("mint");
        assert!(billing.verify(&token).is_ok());
        let after = InternalAuth::new(&new, "billing");
        assert!(after.verify(&token).is_err(), "dropped once the rotation is over");
    }

    #[test]
    fn service_principal_has_no_user_id() {
        let secret = Secret::new("s");
        let marketplace = InternalAuth::new(&secret, "marketplace");
        let billing = InternalAuth::new(&secret, "billing");
        let p = billing.verify(&marketplace.mint_service("billing").expect("mint")).expect("verify");
        assert!(p.require_service().is_ok());
        assert!(p.user_id().is_err());
        assert_eq!(p.sub, "service:marketplace");
    }
}
