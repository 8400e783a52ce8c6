//! A client's bearer token as the gateway checks it: header, `kid` selection against the dev JWKS,
//! algorithm pinning, signature and claims. Input starting with `{` is also read as a JWKS document.
#![no_main]
use gateway::jwks::KeySet;
use gateway::jwt::Rules;
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static KEYS: OnceLock<KeySet> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    if token.starts_with('{') {
        let _ = KeySet::from_jwks(token);
    }
    let keys = KEYS.get_or_init(|| {
        KeySet::from_jwks(include_str!("../../deploy/dev-keys/dev-jwks.json")).expect("the dev JWKS parses")
    });
    let rules = Rules {
        allowed: vec![Algorithm::EdDSA, Algorithm::RS256, Algorithm::ES256],
        issuer: "https://auth.dev.local".into(),
        audience: "monetization-api".into(),
        leeway: 0,
    };
    // Without the private key no input can produce a valid signature: any acceptance is a bug.
    assert!(rules.verify_with(keys, token).is_err(), "an unsigned token was accepted: {token:?}");
});
