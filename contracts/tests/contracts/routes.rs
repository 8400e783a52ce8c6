//! What the code routes, read from the sources: each service's `routes::configure`, the handlers'
//! extractors, and the gateway's route table. Kept to the plain shapes those files use.

use regex::Regex;
use std::path::PathBuf;

pub fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Required,
    Optional,
    None,
}

#[derive(Debug)]
pub struct Route {
    /// Lower case, as in OpenAPI.
    pub method: String,
    pub path: String,
    /// `module::function` under `src/routes/`.
    pub handler: String,
    pub idempotency: Idempotency,
}

/// The `/api/...` routes `services/<service>/src/routes/mod.rs` registers (not `/internal/...`).
/// Paths are string literals, or a `const CONST: &str` of that file alone or in `&format!("{CONST}/...")`.
pub fn public_routes(service: &str) -> Vec<Route> {
    let dir = format!("services/{service}/src/routes");
    let source = read(&format!("{dir}/mod.rs"));
    let consts: Vec<(String, String)> = Regex::new(r#"const (\w+): &str = "([^"]*)";"#)
        .unwrap()
        .captures_iter(&source)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
    let route = Regex::new(
        r#"\.route\(\s*(?:"([^"]+)"|&format!\("([^"]+)"\)|([A-Z_]+))\s*,\s*web::(get|post|put|delete|patch)\(\)\.to\(([\w:]+)\)\s*\)"#,
    )
    .unwrap();
    let registered = source.matches(".route(").count();
    let mut routes = Vec::new();
    let mut parsed = 0;
    for c in route.captures_iter(&source) {
        parsed += 1;
        let path = if let Some(literal) = c.get(1) {
            literal.as_str().to_string()
        } else if let Some(format) = c.get(2) {
            let mut path = format.as_str().to_string();
            for (name, value) in &consts {
                path = path.replace(&format!("{{{name}}}"), value);
            }
            path.replace("{{", "{").replace("}}", "}")
        } else {
            let name = &c[3];
            let value = consts.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            value.unwrap_or_else(|| panic!("{dir}/mod.rs: no `const {name}: &str`"))
        };
        if !path.starts_with("/api/") {
            continue;
        }
        let handler = c[5].to_string();
        let idempotency = extractors(&dir, &handler);
        routes.push(Route { method: c[4].to_string(), path, handler, idempotency });
    }
    assert_eq!(parsed, registered, "{dir}/mod.rs: a `.route(...)` this test cannot read; keep the plain form");
    routes
}

/// Which Idempotency-Key extractor the handler `module::function` takes.
fn extractors(dir: &str, handler: &str) -> Idempotency {
    let (module, function) = handler.split_once("::").unwrap_or_else(|| panic!("{handler}: not module::function"));
    let source = read(&format!("{dir}/{module}.rs"));
    let start = source
        .find(&format!("pub async fn {function}("))
        .unwrap_or_else(|| panic!("{dir}/{module}.rs: no `pub async fn {function}(`"));
    let rest = &source[start..];
    let signature = &rest[..rest.find('{').unwrap_or(rest.len())];
    if Regex::new(r":\s*IdempotencyKey\b").unwrap().is_match(signature) {
        Idempotency::Required
    } else if Regex::new(r":\s*(super::)?OptionalIdempotencyKey\b").unwrap().is_match(signature) {
        Idempotency::Optional
    } else {
        Idempotency::None
    }
}

/// The gateway's own route table and public-route rules (the real functions, not a copy).
pub struct GatewayTable;

pub fn gateway_table() -> GatewayTable {
    GatewayTable
}

/// A documented path with its `{param}` segments filled in, as a client would send it.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "0192f0c4-0000-7000-8000-000000000000" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

impl GatewayTable {
    pub fn upstream(&self, path: &str) -> Option<&str> {
        gateway::route_table::service_for(&concrete(path))
    }

    pub fn is_public(&self, method: &str, path: &str) -> bool {
        gateway::route_table::is_public(&method.to_ascii_uppercase(), &concrete(path))
    }
}
