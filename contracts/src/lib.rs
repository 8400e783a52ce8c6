//! The public API document, generated from the services' handler annotations (utoipa) and
//! merged into one OpenAPI 3.1 document as the gateway exposes it. `cargo run -p contracts`
//! rewrites `proto-schemas/openapi.json`; a test fails when the committed file is stale.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, ServerBuilder};

pub const OPENAPI_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-schemas/openapi.json");

/// Every service's part, merged under the gateway's description.
pub fn openapi() -> OpenApi {
    use utoipa::OpenApi as _;
    let mut doc = billing::openapi::ApiDoc::openapi();
    doc.info = InfoBuilder::new()
        .title("Monetization platform API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Payments, subscriptions, course marketplace, reward tokens and enterprise licensing, served through the \
             gateway. Authenticate with `Authorization: Bearer <JWT>` (RS256, ES256 or EdDSA). Errors are RFC 9457 \
             `application/problem+json` with a stable `code`. Every POST that moves money, tokens or seats requires an \
             `Idempotency-Key` header (same key + same body replays the first response with `Idempotent-Replayed: true`; \
             same key + different body is 422; a concurrent duplicate is 409). Lists use `?limit=` (max 100) and an \
             opaque `?cursor=`.",
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
