//! External JWTs signed with the committed TEST-ONLY keys in `crates/testkit/keys`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://auth.test.local";
pub const AUDIENCE: &str = "monetization-api";

pub fn keys_dir() -> String {
    format!("{}/keys", env!("CARGO_MANIFEST_DIR"))
}

pub fn jwks_path() -> String {
    format!("{}/jwks.json", keys_dir())
}

pub fn public_pem_path(kid: &str) -> String {
    format!("{}/{kid}.pub.pem", keys_dir())
}

pub fn public_pem(kid: &str) -> Vec<u8> {
    std::fs::read(public_pem_path(kid)).expect("public key")
}

/// The kid of the committed test key for `alg`.
pub fn kid_for(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "test-rs256",
        Algorithm::ES256 => "test-es256",
        Algorithm::EdDSA => "test-eddsa",
        other => panic!("no test key for {other:?}"),
    }
}

fn encoding_key(alg: Algorithm) -> EncodingKey {
    let pem = std::fs::read(format!("{}/{}.key.pem", keys_dir(), kid_for(alg))).expect("private key");
    match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_ed_pem(&pem),
    }
    .expect("valid key")
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Valid claims for `sub` with `roles`; tests edit the JSON to make them invalid.
pub fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "sub": sub, "roles": roles, "iss": ISSUER, "aud": AUDIENCE,
        "iat": now(), "nbf": now(), "exp": now() + 600,
    })
}

/// Sign `claims` with the test key for `alg` (header carries its kid).
pub fn sign(alg: Algorithm, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid_for(alg).into());
    jsonwebtoken::encode(&header, claims, &encoding_key(alg)).expect("sign")
}

/// Sign with an explicit header (wrong kid, confusion attacks) and raw key bytes for HS256.
pub fn sign_with(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

/// A token for a user with roles, valid for 10 minutes, EdDSA-signed.
pub fn user_token(sub: &str, roles: &[&str]) -> String {
    sign(Algorithm::EdDSA, &claims(sub, roles))
}

/// `alg: none` tokens cannot be produced by jsonwebtoken; build one by hand.
pub fn unsigned_token(claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64.encode(serde_json::to_vec(claims).expect("json"));
    format!("{header}.{body}.")
}
