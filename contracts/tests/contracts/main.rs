//! The committed contracts match the code.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod routes;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn document() -> Value {
    serde_json::from_str(&contracts::render()).unwrap()
}

/// (method, path) -> operation, for every operation of `doc`.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                ops.insert((method.clone(), path.clone()), op.clone());
            }
        }
    }
    ops
}

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
    let doc = document();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    let ops = operations(&doc);
    assert!(!ops.is_empty());
    for ((method, path), op) in &ops {
        let name = format!("{method} {path}");
        assert!(op.get("security").is_some(), "{name}: no security (use `security(())` for public routes)");
        let responses = op["responses"].as_object().expect("responses");
        let problem = responses.values().any(|r| r["content"].get("application/problem+json").is_some());
        assert!(problem, "{name}: documents no problem+json error");
        for (status, r) in responses {
            if let Some(p) = r["content"].get("application/problem+json") {
                assert_eq!(p["schema"]["$ref"], "#/components/schemas/Problem", "{name} {status}: not a Problem");
                assert!(status.starts_with('4') || status.starts_with('5'), "{name} {status}: a problem on success");
            }
        }
        let idempotency =
            op["parameters"].as_array().into_iter().flatten().find(|p| p["name"] == "Idempotency-Key").cloned();
        if let Some(header) = idempotency {
            assert_eq!(header["in"], "header", "{name}: Idempotency-Key is a header");
            assert!(method == "post", "{name}: Idempotency-Key on a {method}");
            if header["required"] == Value::Bool(true) {
                let missing = responses.get("400").and_then(|r| r["description"].as_str()).unwrap_or_default();
                assert!(missing.contains("idempotency_key_required"), "{name}: 400 idempotency_key_required");
            }
            let reused = responses.get("422").and_then(|r| r["description"].as_str()).unwrap_or_default();
            assert!(reused.contains("idempotency_key_reused"), "{name}: 422 idempotency_key_reused");
            let racing = responses.get("409").and_then(|r| r["description"].as_str()).unwrap_or_default();
            assert!(racing.contains("idempotency_in_progress"), "{name}: 409 idempotency_in_progress");
        }
    }
    // Request bodies of handlers that refuse unknown fields say so.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert_eq!(schemas["CreateRefund"]["additionalProperties"], Value::Bool(false));
}

/// Every JSON request body is a named schema that refuses unknown fields (`deny_unknown_fields`).
#[test]
fn request_bodies_refuse_unknown_fields() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for ((method, path), op) in operations(&doc) {
        let Some(schema) = op["requestBody"]["content"].get("application/json").map(|c| &c["schema"]) else {
            continue;
        };
        let Some(name) = schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) else {
            // A body documented as a free-form object (e.g. Stripe's webhook event).
            assert_eq!(schema["type"], "object", "{method} {path}: an inline request body");
            continue;
        };
        assert_eq!(
            schemas[name]["additionalProperties"],
            Value::Bool(false),
            "{method} {path}: {name} should be `#[serde(deny_unknown_fields)]`"
        );
    }
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = BTreeMap::new();
    for ((method, path), op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId")).to_string();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id:?} of both {other} and {method} {path}: set `operation_id = ...`");
        }
    }
}

/// `OpenApi::merge` keeps the first of two schemas (or paths) with one name: a clash between
/// services would silently document one service's type for the other's. Every part must come
/// through the merge unchanged.
#[test]
fn merging_loses_nothing() {
    let doc = document();
    let merged_ops = operations(&doc);
    let merged_schemas = doc["components"]["schemas"].as_object().unwrap();
    for (service, part) in contracts::parts() {
        let part = serde_json::to_value(&part).unwrap();
        for (key, op) in operations(&part) {
            assert_eq!(merged_ops.get(&key), Some(&op), "{service}: {key:?} differs after the merge");
            assert_eq!(op["tags"], serde_json::json!([service]), "{service}: {key:?} is not tagged {service:?}");
        }
        for (name, schema) in part["components"]["schemas"].as_object().into_iter().flatten() {
            assert_eq!(
                merged_schemas.get(name),
                Some(schema),
                "{service}: schema {name} clashes with another service's; rename it with `#[schema(as = ...)]`"
            );
        }
    }
    let gateway = serde_json::to_value(contracts::gateway_part()).unwrap();
    for (key, op) in operations(&gateway) {
        assert_eq!(merged_ops.get(&key), Some(&op), "gateway: {key:?} differs after the merge");
        assert_eq!(op["tags"], serde_json::json!(["gateway"]), "gateway: {key:?} is not tagged gateway");
    }
    let documented: BTreeSet<&str> =
        doc["tags"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    let mut services: BTreeSet<&str> = contracts::parts().iter().map(|(s, _)| *s).collect();
    services.insert("gateway");
    assert_eq!(documented, services);
}

/// Each service's `/api/...` routes (from its `routes::configure`) are exactly the operations it
/// documents; the Idempotency-Key header is documented as required exactly for the handlers that
/// take the `IdempotencyKey` extractor, and as optional for `OptionalIdempotencyKey`.
#[test]
fn documented_operations_match_the_routes_and_their_extractors() {
    let doc = document();
    let ops = operations(&doc);
    let mut documented: BTreeSet<(String, String)> = ops.keys().cloned().collect();
    // What the gateway answers itself: registered in its `lib.rs` as a `web::resource`.
    let gateway_lib = routes::read("services/gateway/src/lib.rs");
    for ((method, path), op) in &ops {
        if op["tags"] == serde_json::json!(["gateway"]) {
            // The data export's routes are registered from `OWN` (checked below), not by literal.
            let own = gateway::route_table::OWN.iter().any(|(m, p)| m.eq_ignore_ascii_case(method) && p == path);
            let registered = format!("web::resource(\"{path}\")");
            assert!(
                own || gateway_lib.contains(&registered),
                "{method} {path}: documented, the gateway does not serve it"
            );
            documented.remove(&(method.clone(), path.clone()));
        }
    }
    for (service, _) in contracts::parts() {
        if service == contracts::GATEWAY {
            for (method, path) in gateway::route_table::OWN {
                let key = (method.to_ascii_lowercase(), path.to_string());
                let op = ops.get(&key).unwrap_or_else(|| panic!("the gateway's {method} {path} is not documented"));
                assert_eq!(op["tags"], serde_json::json!([service]), "{method} {path}: not tagged {service}");
                documented.remove(&key);
            }
            continue;
        }
        let routes = routes::public_routes(service);
        assert!(!routes.is_empty(), "{service}: no /api routes found in src/routes/mod.rs");
        // The runtime registers every service's audit-log read (`platform::audit::routes`).
        let audit = ("get".to_string(), platform::audit::path(service));
        assert!(ops.contains_key(&audit), "{service}: the audit log's read is not documented");
        documented.remove(&audit);
        for route in routes {
            let key = (route.method.clone(), route.path.clone());
            let name = format!("{service}: {} {} ({})", route.method, route.path, route.handler);
            let op = ops.get(&key).unwrap_or_else(|| panic!("{name} is not documented (`#[utoipa::path]` + ApiDoc)"));
            assert_eq!(op["tags"], serde_json::json!([service]), "{name}: tagged with another service");
            documented.remove(&key);
            let header = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
            let required = header.map(|h| h["required"] == Value::Bool(true));
            match route.idempotency {
                routes::Idempotency::Required => {
                    assert_eq!(required, Some(true), "{name}: takes IdempotencyKey; document the header as required")
                }
                routes::Idempotency::Optional => assert_eq!(
                    required,
                    Some(false),
                    "{name}: takes OptionalIdempotencyKey; document the header as optional"
                ),
                routes::Idempotency::None => {
                    assert_eq!(required, None, "{name}: documents an Idempotency-Key it does not read")
                }
            }
        }
    }
    assert!(documented.is_empty(), "documented but not routed: {documented:?}");
}

/// The gateway forwards every documented path to the service that documents it, and lets exactly
/// the operations documented with `security(())` through without a token.
#[test]
fn the_gateway_routes_and_protects_what_is_documented() {
    let gateway = routes::gateway_table();
    let doc = document();
    for ((method, path), op) in operations(&doc) {
        let service = op["tags"][0].as_str().unwrap();
        // The gateway's own routes (gateway::route_table::OWN) are matched before any prefix, so
        // one may sit under a prefix another service owns (the admin export under rewards'
        // `/api/admin/users`): for those, only "the gateway serves it itself" matters.
        let own = gateway::route_table::OWN.iter().any(|(m, p)| m.eq_ignore_ascii_case(&method) && *p == path);
        if !own {
            let expected = (service != contracts::GATEWAY).then_some(service);
            assert_eq!(gateway.upstream(&path), expected, "{method} {path}: the gateway does not send it to {service}");
        } else {
            assert_eq!(service, contracts::GATEWAY, "{method} {path}: served by the gateway, documented for {service}");
        }
        let public =
            op["security"].as_array().is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())));
        assert_eq!(
            gateway.is_public(&method, &path),
            public,
            "{method} {path}: documented as {}, the gateway {}",
            if public { "public" } else { "needing a token" },
            if public { "requires a token" } else { "lets it through without one" }
        );
    }
}

/// The merged audit log's `service` parameter lists exactly the services the gateway merges.
#[test]
fn the_merged_audit_log_documents_the_services_it_merges() {
    assert_eq!(contracts::AUDITED_SERVICES, gateway::route_table::AUDITED_SERVICES);
    let doc = document();
    let op = &doc["paths"]["/api/admin/audit"]["get"];
    let service = op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "service").unwrap();
    let listed: Vec<&str> = service["schema"]["enum"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(listed, contracts::AUDITED_SERVICES);
    assert_eq!(
        op["responses"]["403"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
}
