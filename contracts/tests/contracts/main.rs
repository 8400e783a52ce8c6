//! The committed contracts match the code.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use serde_json::Value;

#[test]
fn committed_openapi_is_current() {
    let committed = std::fs::read_to_string(contracts::OPENAPI_PATH).expect("proto-schemas/openapi.json exists");
    let generated = contracts::render();
    assert!(
        committed == generated,
        "proto-schemas/openapi.json is stale: run `cargo run -p contracts` (or `make openapi`) and commit it"
    );
}

#[test]
fn every_operation_documents_auth_errors_and_idempotency() {
    let doc: Value = serde_json::from_str(&contracts::render()).unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            assert!(op.get("security").is_some(), "{name}: no security (use `security(())` for public routes)");
            let responses = op["responses"].as_object().expect("responses");
            let problem = responses.values().any(|r| r["content"].get("application/problem+json").is_some());
            assert!(problem, "{name}: documents no problem+json error");
            if method == "post" && op.to_string().contains("Idempotency-Key") {
                continue;
            }
        }
    }
    // Request bodies of handlers that refuse unknown fields say so.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert_eq!(schemas["CreateRefund"]["additionalProperties"], Value::Bool(false));
}
