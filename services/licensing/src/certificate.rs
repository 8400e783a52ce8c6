//! Signed license certificates: an EdDSA (Ed25519) JWT a client can verify offline with the
//! public key the service publishes.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const ISSUER: &str = "monetization-licensing";
pub const AUDIENCE: &str = "license-certificate";
/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertificateOrganization {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
}

/// The certificate's claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertificateClaims {
    pub iss: String,
    pub aud: String,
    /// The license id.
    pub sub: String,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub organization: CertificateOrganization,
    pub tier: String,
    pub seats: u32,
    pub license_starts_at: DateTime<Utc>,
    pub license_expires_at: DateTime<Utc>,
}

/// Signs certificates; knows the public key it publishes.
#[derive(Clone)]
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub kid: String,
    pub public_pem: String,
    /// The raw public key, base64url (JWK `x`).
    pub public_x: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    /// Both halves of the key pair; refuses a pair that does not belong together.
    pub fn from_pems(private_pem: &str, public_pem: &str) -> Result<Self, String> {
        let encoding = EncodingKey::from_ed_pem(private_pem.as_bytes())
            .map_err(|e| format!("LICENSING_CERTIFICATE_SIGNING_KEY_PEM is not an Ed25519 PKCS#8 PEM key: {e}"))?;
        let raw = ed25519_public_key(public_pem)?;
        let decoding = DecodingKey::from_ed_der(&raw);
        let kid = hex::encode(&Sha256::digest(raw)[..8]);
        let signer = Self {
            encoding,
            decoding,
            kid,
            public_pem: public_pem.trim().to_string() + "\n",
            public_x: URL_SAFE_NO_PAD.encode(raw),
        };
        // A probe: signing with one key and publishing another would make every certificate fail.
        let probe = signer.sign_raw(&serde_json::json!({"probe": true, "exp": 4_102_444_800u64}))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&probe, &signer.decoding, &validation).map_err(|_| {
            "LICENSING_CERTIFICATE_PUBLIC_KEY_PEM does not match LICENSING_CERTIFICATE_SIGNING_KEY_PEM".to_string()
        })?;
        Ok(signer)
    }

    fn sign_raw(&self, claims: &impl Serialize) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| format!("signing failed: {e}"))
    }

    pub fn sign(&self, claims: &CertificateClaims) -> Result<String, String> {
        self.sign_raw(claims)
    }

    /// Verify as a client would: signature, issuer, audience and validity.
    pub fn verify(&self, token: &str) -> Result<CertificateClaims, String> {
        verify_with(token, &self.decoding)
    }
}

pub fn verify_with(token: &str, key: &DecodingKey) -> Result<CertificateClaims, String> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    jsonwebtoken::decode::<CertificateClaims>(token, key, &validation).map(|d| d.claims).map_err(|e| e.to_string())
}

/// The 32 raw bytes of an Ed25519 public key in SPKI PEM.
pub fn ed25519_public_key(pem: &str) -> Result<[u8; 32], String> {
    let err = || "LICENSING_CERTIFICATE_PUBLIC_KEY_PEM is not an Ed25519 public key PEM".to_string();
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN PUBLIC KEY-----")
        .skip(1)
        .take_while(|l| *l != "-----END PUBLIC KEY-----")
        .collect();
    let der = STANDARD.decode(body).map_err(|_| err())?;
    if der.len() != 44 || der[..12] != ED25519_SPKI_PREFIX {
        return Err(err());
    }
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&der[12..]);
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = include_str!("../dev-keys/certificate-signing.dev-only.key.pem");
    const PUBLIC: &str = include_str!("../dev-keys/certificate-signing.dev-only.pub.pem");

    fn claims() -> CertificateClaims {
        let now = Utc::now();
        CertificateClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: Uuid::nil().to_string(),
            jti: Uuid::nil().to_string(),
            iat: now.timestamp(),
            nbf: now.timestamp() - 10,
            exp: now.timestamp() + 3600,
            organization: CertificateOrganization { id: Uuid::nil(), name: "Acme".into(), domain: "acme.com".into() },
            tier: "enterprise".into(),
            seats: 10,
            license_starts_at: now,
            license_expires_at: now,
        }
    }

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let signer = Signer::from_pems(PRIVATE, PUBLIC).unwrap();
        let c = claims();
        let token = signer.sign(&c).unwrap();
        assert_eq!(signer.verify(&token).unwrap(), c);
        let mut bytes = token.into_bytes();
        let i = bytes.len() - 5;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        assert!(signer.verify(&String::from_utf8(bytes).unwrap()).is_err());
    }

    #[test]
    fn refuses_mismatched_or_bad_keys() {
        let other = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        assert!(Signer::from_pems(PRIVATE, other).unwrap_err().contains("does not match"));
        assert!(Signer::from_pems("junk", PUBLIC).is_err());
        assert!(Signer::from_pems(PRIVATE, "junk").is_err());
    }
}
