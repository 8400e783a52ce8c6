//! Verifying clients' JWTs.
//!
//! The algorithm comes from an allowlist, never from the token alone: the header's `alg` must be
//! allowed AND match the key found by `kid`, so an HS256 token "signed" with a public RSA key (the
//! classic confusion attack) or `alg: none` is refused before any signature check.

use crate::config::{split_list, GatewayConfig};
use crate::jwks::{JwksMetrics, KeyRing, KeySet};
use jsonwebtoken::{Algorithm, Validation};
use platform::auth::Role;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The caller, as proven by a verified token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Uuid,
    pub roles: Vec<Role>,
    pub org_id: Option<Uuid>,
    pub exp: u64,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    org_id: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("{0}")]
    Invalid(String),
}

pub struct Verifier {
    keys: Arc<KeyRing>,
    rules: Rules,
    /// Verified tokens by digest, with the `kid` that verified them: an entry is used only while
    /// that key is still published, so removing a compromised key from the JWKS refuses its
    /// tokens from the next refresh on, cached or not.
    cache: RwLock<HashMap<[u8; 32], (Identity, String)>>,
}

const CACHE_MAX: usize = 100_000;

impl Verifier {
    pub async fn from_config(config: &GatewayConfig, metrics: JwksMetrics) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for name in split_list(&config.jwt_algorithms) {
            let alg = match name.as_str() {
                "RS256" => Algorithm::RS256,
                "ES256" => Algorithm::ES256,
                "EdDSA" => Algorithm::EdDSA,
                "HS256" if config.jwt_allow_hs256 => Algorithm::HS256,
                other => return Err(format!("GATEWAY_JWT_ALGORITHMS: {other} is not allowed")),
            };
            allowed.push(alg);
        }
        if config.jwt_leeway_secs > 30 {
            return Err("GATEWAY_JWT_LEEWAY_SECS must be at most 30".into());
        }
        let keys = KeyRing::load(config, metrics).await?;
        keys.spawn_periodic();
        Ok(Self {
            keys,
            rules: Rules {
                allowed,
                issuer: config.jwt_issuer.clone(),
                audience: config.jwt_audience.clone(),
                leeway: config.jwt_leeway_secs,
            },
            cache: RwLock::new(HashMap::new()),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let now = jsonwebtoken::get_current_timestamp();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let fresh = |(id, kid): &&(Identity, String)| id.exp + self.rules.leeway > now && self.keys.contains(kid);
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(&digest).filter(fresh).map(|(id, _)| id.clone())) {
            return Ok(hit);
        }
        let (identity, kid) = self.verify_uncached(token).await?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, (id, _)| id.exp + self.rules.leeway > now);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(digest, (identity.clone(), kid));
        }
        Ok(identity)
    }

    async fn verify_uncached(&self, token: &str) -> Result<(Identity, String), JwtError> {
        let header = self.rules.header(token)?;
        let mut keys = self.keys.current();
        if header.kid.is_none() && !keys.has_default() {
            return Err(JwtError::Invalid("token has no kid".into()));
        }
        if keys.find(header.kid.as_deref()).is_none() {
            // Perhaps the identity provider rotated: look once more (throttled, single-flight).
            self.keys.refresh_for_unknown_kid().await;
            keys = self.keys.current();
        }
        self.rules.verify_with(&keys, token)
    }
}

/// What a token must satisfy, apart from where the keys come from: pure, so the whole check of
/// an untrusted token (header, `kid` selection, signature, claims) is fuzzed as it runs
/// (fuzz/fuzz_targets/jwt.rs).
pub struct Rules {
    pub allowed: Vec<Algorithm>,
    pub issuer: String,
    pub audience: String,
    pub leeway: u64,
}

impl Rules {
    /// The token's header, if it parses and names an accepted algorithm.
    pub fn header(&self, token: &str) -> Result<jsonwebtoken::Header, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid("malformed token".into()))?;
        if !self.allowed.contains(&header.alg) {
            return Err(JwtError::Invalid("token algorithm is not accepted".into()));
        }
        Ok(header)
    }

    /// Verify `token` against `keys`: the key its `kid` names (or the default), that key's one
    /// algorithm, the signature, then issuer, audience, expiry and the user claims.
    pub fn verify_with(&self, keys: &KeySet, token: &str) -> Result<(Identity, String), JwtError> {
        let invalid = |m: &str| JwtError::Invalid(m.to_string());
        let header = self.header(token)?;
        if header.kid.is_none() && !keys.has_default() {
            return Err(invalid("token has no kid"));
        }
        let (kid, key) = keys.find(header.kid.as_deref()).ok_or_else(|| invalid("unknown signing key"))?;
        if key.algorithm != header.alg {
            return Err(invalid("token algorithm does not match its key"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = self.leeway;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| JwtError::Invalid(format!("token rejected: {}", describe(&e))))?;
        let claims = data.claims;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| invalid("sub must be a user UUID"))?;
        // Only user roles come from outside; `service` is never accepted from a client.
        let roles = claims
            .roles
            .iter()
            .filter_map(|r| match r.as_str() {
                "learner" => Some(Role::Learner),
                "instructor" => Some(Role::Instructor),
                "admin" => Some(Role::Admin),
                "org_admin" => Some(Role::OrgAdmin),
                _ => None,
            })
            .collect();
        Ok((Identity { user_id, roles, org_id: claims.org_id, exp: claims.exp }, kid.to_string()))
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "expired",
        K::ImmatureSignature => "not yet valid",
        K::InvalidIssuer => "wrong issuer",
        K::InvalidAudience => "wrong audience",
        K::InvalidSignature => "bad signature",
        K::MissingRequiredClaim(_) => "missing a required claim",
        K::InvalidAlgorithm => "algorithm does not match the key",
        _ => "invalid",
    }
}
