//! The public API document, generated from the services' handler annotations (utoipa) and
//! merged into one OpenAPI 3.1 document as the gateway exposes it. `cargo run -p contracts`
//! rewrites `proto-schemas/openapi.json`; a test fails when the committed file is stale.

mod rules;

pub use rules::AUDITED_SERVICES;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, ServerBuilder};

pub const OPENAPI_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-schemas/openapi.json");

/// Each service's part of the document, in the order they are merged, then the gateway's own.
pub fn parts() -> Vec<(&'static str, OpenApi)> {
    use utoipa::OpenApi as _;
    vec![
        ("billing", billing::openapi::ApiDoc::openapi()),
        ("subscriptions", subscriptions::openapi::ApiDoc::openapi()),
        ("rewards", rewards::openapi::ApiDoc::openapi()),
        ("licensing", licensing::openapi::ApiDoc::openapi()),
        ("marketplace", marketplace::openapi::ApiDoc::openapi()),
        ("webhooks", webhooks::openapi::ApiDoc::openapi()),
    ]
    .into_iter()
    .map(|(service, mut part)| {
        // Every service also serves its audit log (registered by the runtime, not its routes).
        part.merge(platform::audit::openapi(service));
        (service, with_rules(service, part))
    })
    // What the gateway answers itself, from every service's part (the merged audit log, the data export).
    .chain(std::iter::once((GATEWAY, gateway_part())))
    .collect()
}

/// The tag of the operations the gateway serves itself.
pub const GATEWAY: &str = "gateway";

/// What the gateway serves itself rather than forwarding: the merged audit log and the data export.
pub fn gateway_part() -> OpenApi {
    let mut part = platform::audit::merged_openapi();
    part.merge(platform::privacy::openapi());
    with_rules(GATEWAY, part)
}

/// `part` with the rules the service enforces in code written in (see [`rules`]).
#[allow(clippy::expect_used, clippy::panic)] // build time: a document that does not round-trip must stop it
fn with_rules(service: &str, part: OpenApi) -> OpenApi {
    let mut doc = serde_json::to_value(&part).expect("an OpenAPI document serializes");
    rules::apply(service, &mut doc);
    rules::fill_serde_defaults(&mut doc);
    serde_json::from_value(doc).unwrap_or_else(|e| panic!("{service}: the document with its rules: {e}"))
}

/// Every service's part, merged under the gateway's description. Paths and schemas are ordered
/// maps and the parts merge in a fixed order, so the result is the same on every run. A schema
/// or path that two services both define is kept from the first only (`OpenApi::merge`); the
/// contracts test fails when that drops anything.
pub fn openapi() -> OpenApi {
    let mut doc = OpenApiBuilder::new().build();
    for (_, part) in parts() {
        doc.merge(part);
    }
    doc.info = InfoBuilder::new()
        .title("Monetization platform API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Payments, subscriptions, course marketplace, reward tokens and enterprise licensing, served through the \
             gateway. Authenticate with `Authorization: Bearer <JWT>` (RS256, ES256 or EdDSA). Errors are RFC 9457 \
             `application/problem+json` with a stable `code`. Every POST that moves money, tokens or seats takes an \
             `Idempotency-Key` header, required except on seat activation (same key + same body replays the first \
             response with `Idempotent-Replayed: true`; same key + different body is 422; a concurrent duplicate is \
             409). Lists use `?limit=` (max 100) and an opaque `?cursor=`. Besides the errors each operation lists, \
             any request may be answered 429 `rate_limited` (with `Retry-After`), 500 `internal_error`, 502 \
             `upstream_unavailable`, 503 `unavailable` or 504 `upstream_timeout`; a body that is not JSON is 400 \
             `bad_request`, one too large 413 `payload_too_large`, one without `Content-Type: application/json` 415 \
             `unsupported_media_type`; a malformed id in the path is 404 `not_found`; a method the path does not take \
             is 405 `method_not_allowed` with an `Allow` header. Control characters in any string of a body (tab, \
             newline and CR allowed only in the long-text fields `description`, `body`, `comment`, `message`, \
             `reason`, `text`), in a query or path parameter, a query parameter the operation does not list, or \
             a value of the wrong type is 422 `validation_failed` naming the field as a path (`price.amount`, \
             `query.min_price`, `path.id`).",
        ))
        .build();
    doc.servers = Some(vec![ServerBuilder::new().url("http://127.0.0.1:8080").description(Some("make run")).build()]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    doc
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&openapi()).unwrap_or_default();
    text.push('\n');
    text
}
