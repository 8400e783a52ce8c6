//! Credentials the bench presents: client JWTs signed with the committed DEV-ONLY EdDSA key (what
//! the dev gateway trusts, as `gateway dev-token` mints them), and internal tokens for the
//! direct-to-service baseline (the claims `platform::auth::InternalClaims` verifies).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub struct Minter {
    key: EncodingKey,
    header: Header,
    issuer: String,
    audience: String,
    internal: EncodingKey,
    /// One client token per (user, role): the gateway caches verified tokens, and a real client
    /// reuses its token for its whole lifetime, so re-minting per request would be unrealistic.
    cache: Mutex<HashMap<(Uuid, &'static str), Arc<str>>>,
}

impl Minter {
    pub fn new(pem: &[u8], issuer: &str, audience: &str, internal_secret: &str) -> Result<Self, String> {
        let key = EncodingKey::from_ed_pem(pem).map_err(|e| format!("JWT signing key: {e}"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("dev-eddsa".into());
        Ok(Self {
            key,
            header,
            issuer: issuer.into(),
            audience: audience.into(),
            internal: EncodingKey::from_secret(internal_secret.as_bytes()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The client JWT of `user` with `role` (an hour long: longer than any run).
    pub fn client(&self, user: Uuid, role: &'static str) -> Result<Arc<str>, String> {
        if let Some(hit) = self.lock().get(&(user, role)) {
            return Ok(hit.clone());
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({
            "sub": user, "roles": [role], "iss": self.issuer, "aud": self.audience,
            "iat": now, "nbf": now, "exp": now + 3600,
        });
        let token: Arc<str> = jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|e| e.to_string())?.into();
        self.lock().insert((user, role), token.clone());
        Ok(token)
    }

    /// Mint (and cache) the client tokens of `users` before a scenario starts, so signing never
    /// competes with the load.
    pub fn warm(&self, users: impl IntoIterator<Item = Uuid>, role: &'static str) -> Result<(), String> {
        for u in users {
            self.client(u, role)?;
        }
        Ok(())
    }

    /// An internal token for calling `service` directly as `user`, as the gateway would forward it
    /// (HS256, `iss = monetization-internal`, `aud = service`, 60 s).
    pub fn internal(&self, service: &str, user: Uuid) -> Result<String, String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({
            "sub": user.to_string(), "roles": ["learner"], "aud": service,
            "iss": "monetization-internal", "iat": now, "exp": now + 60,
        });
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.internal).map_err(|e| e.to_string())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, &'static str), Arc<str>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
