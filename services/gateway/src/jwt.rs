//! Verifying clients' JWTs.
//!
//! The algorithm comes from an allowlist, never from the token alone: the header's `alg` must be
//! allowed AND match the key found by `kid`, so an HS256 token "signed" with a public RSA key (the
//! classic confusion attack) or `alg: none` is refused before any signature check.

use crate::config::{split_list, GatewayConfig};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use platform::auth::Role;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
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

struct Key {
    key: DecodingKey,
    algorithm: Algorithm,
}

pub struct Verifier {
    keys: HashMap<String, Key>,
    /// Used when a token has no `kid` and exactly one key could have signed it.
    default_kid: Option<String>,
    allowed: Vec<Algorithm>,
    issuer: String,
    audience: String,
    leeway: u64,
    cache: RwLock<HashMap<[u8; 32], Identity>>,
}

const CACHE_MAX: usize = 100_000;

impl Verifier {
    pub async fn from_config(config: &GatewayConfig) -> Result<Self, String> {
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
        let mut keys = HashMap::new();
        let mut default_kid = None;
        if let Some(path) = &config.jwks_file {
            let raw = std::fs::read_to_string(path).map_err(|e| format!("GATEWAY_JWKS_FILE {path}: {e}"))?;
            add_jwks(&mut keys, &raw)?;
        }
        if let Some(url) = &config.jwks_url {
            let raw = reqwest::get(url)
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("GATEWAY_JWKS_URL {url}: {e}"))?
                .text()
                .await
                .map_err(|e| format!("GATEWAY_JWKS_URL {url}: {e}"))?;
            add_jwks(&mut keys, &raw)?;
        }
        if let Some(path) = &config.jwt_public_key_pem_file {
            let pem = std::fs::read(path).map_err(|e| format!("GATEWAY_JWT_PUBLIC_KEY_PEM_FILE {path}: {e}"))?;
            let (key, algorithm) = pem_key(&pem)?;
            let kid = config.jwt_public_key_kid.clone().unwrap_or_else(|| "pem".into());
            default_kid = Some(kid.clone());
            keys.insert(kid, Key { key, algorithm });
        }
        if let (true, Some(secret)) = (config.jwt_allow_hs256, &config.jwt_hs256_secret) {
            keys.insert(
                "hs256".into(),
                Key { key: DecodingKey::from_secret(secret.expose().as_bytes()), algorithm: Algorithm::HS256 },
            );
        }
        if keys.is_empty() {
            return Err(
                "no JWT verification key: set GATEWAY_JWKS_FILE, GATEWAY_JWKS_URL or GATEWAY_JWT_PUBLIC_KEY_PEM_FILE"
                    .into(),
            );
        }
        if default_kid.is_none() && keys.len() == 1 {
            default_kid = keys.keys().next().cloned();
        }
        Ok(Self {
            keys,
            default_kid,
            allowed,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            leeway: config.jwt_leeway_secs,
            cache: RwLock::new(HashMap::new()),
        })
    }

    pub fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let now = jsonwebtoken::get_current_timestamp();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(&digest).cloned()) {
            if hit.exp + self.leeway > now {
                return Ok(hit);
            }
        }
        let identity = self.verify_uncached(token)?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, id| id.exp + self.leeway > now);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(digest, identity.clone());
        }
        Ok(identity)
    }

    fn verify_uncached(&self, token: &str) -> Result<Identity, JwtError> {
        let invalid = |m: &str| JwtError::Invalid(m.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if !self.allowed.contains(&header.alg) {
            return Err(invalid("token algorithm is not accepted"));
        }
        let kid = header.kid.clone().or_else(|| self.default_kid.clone()).ok_or_else(|| invalid("token has no kid"))?;
        let key = self.keys.get(&kid).ok_or_else(|| invalid("unknown signing key"))?;
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
        Ok(Identity { user_id, roles, org_id: claims.org_id, exp: claims.exp })
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

fn add_jwks(keys: &mut HashMap<String, Key>, raw: &str) -> Result<(), String> {
    let set: JwkSet = serde_json::from_str(raw).map_err(|e| format!("JWKS is not valid: {e}"))?;
    for jwk in &set.keys {
        let kid = jwk.common.key_id.clone().ok_or("every JWKS key needs a kid")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key {kid}: {e}"))?;
        let algorithm = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            _ => return Err(format!("JWKS key {kid}: only RSA, EC and OKP public keys are accepted")),
        };
        keys.insert(kid, Key { key, algorithm });
    }
    Ok(())
}

fn pem_key(pem: &[u8]) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(k) = DecodingKey::from_ed_pem(pem) {
        return Ok((k, Algorithm::EdDSA));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(pem) {
        return Ok((k, Algorithm::ES256));
    }
    DecodingKey::from_rsa_pem(pem).map(|k| (k, Algorithm::RS256)).map_err(|e| format!("PEM key: {e}"))
}
