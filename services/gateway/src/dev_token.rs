//! `gateway dev-token`: a JWT signed with the committed DEV-ONLY key (deploy/dev-keys), which only
//! the dev gateway configuration trusts. For `make token`; never for a deployed environment.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::process::ExitCode;

/// Fixed user ids per role, so repeated dev tokens act as the same user.
fn default_sub(role: &str) -> &'static str {
    match role {
        "admin" => "00000000-0000-4000-8000-00000000000a",
        "instructor" => "00000000-0000-4000-8000-00000000000b",
        "org_admin" => "00000000-0000-4000-8000-00000000000c",
        _ => "00000000-0000-4000-8000-00000000000d",
    }
}

pub fn main(args: &[String]) -> ExitCode {
    let mut role = "learner".to_string();
    let mut sub = None;
    let mut org = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().cloned();
        match (flag.as_str(), value) {
            ("--role", Some(v)) => role = v,
            ("--sub", Some(v)) => sub = Some(v),
            ("--org", Some(v)) => org = Some(v),
            _ => {
                eprintln!(
                    "usage: gateway dev-token [--role learner|instructor|admin|org_admin] [--sub UUID] [--org UUID]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let key_file = std::env::var("GATEWAY_DEV_SIGNING_KEY_FILE")
        .unwrap_or_else(|_| "deploy/dev-keys/dev-jwt-eddsa.key.pem".into());
    let issuer = std::env::var("GATEWAY_JWT_ISSUER").unwrap_or_else(|_| "https://auth.dev.local".into());
    let audience = std::env::var("GATEWAY_JWT_AUDIENCE").unwrap_or_else(|_| "monetization-api".into());
    let pem = match std::fs::read(&key_file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dev-token: {key_file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let key = match EncodingKey::from_ed_pem(&pem) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("dev-token: {key_file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = jsonwebtoken::get_current_timestamp();
    let mut roles = vec![role.clone()];
    if role == "org_admin" {
        roles.push("learner".into());
    }
    let claims = json!({
        "sub": sub.unwrap_or_else(|| default_sub(&role).to_string()),
        "roles": roles,
        "org_id": org,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 12 * 3600,
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("dev-eddsa".into());
    match jsonwebtoken::encode(&header, &claims, &key) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dev-token: {e}");
            ExitCode::FAILURE
        }
    }
}
