//! HTTP plumbing shared by every service: request ids, trace context, JSON body errors.

use crate::problem::{FieldError, Problem};
use crate::telemetry;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, stored in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn of(req: &HttpRequest) -> String {
        req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
    }
}

/// Accept a sane client `X-Request-Id` or generate one, echo it, and run the request in a span
/// whose parent is the caller's W3C `traceparent`.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        http.request.method = %req.method(),
        url.path = %req.path(),
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    telemetry::set_parent_from_headers(&span, req.headers());
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    span.record("http.response.status_code", status);
    tracing::debug!(parent: &span, status, elapsed_ms = started.elapsed().as_millis() as u64, "request done");
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

fn is_valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// JSON extractor settings: size limit and problem+json errors naming the offending field.
/// Request structs use `#[serde(deny_unknown_fields)]`, so an unknown field is a 422 too.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|err, _req| json_error(err).into())
}

fn json_error(err: actix_web::error::JsonPayloadError) -> Problem {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::ContentType => Problem::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send a JSON body with Content-Type: application/json",
        ),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => Problem::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large",
        ),
        E::Deserialize(e) => {
            if e.is_syntax() || e.is_eof() {
                Problem::bad_request("the body is not valid JSON")
            } else {
                Problem::validation(vec![serde_field_error(&e.to_string())])
            }
        }
        other => Problem::bad_request(other.to_string()),
    }
}

/// Query-string errors as problem+json.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| Problem::validation(vec![serde_field_error(&err.to_string())]).into())
}

/// Path errors (e.g. a malformed UUID) are a 404: the resource named cannot exist.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| Problem::not_found("resource").into())
}

/// serde's messages say "unknown field `x`" or "missing field `x`"; lift the field name out.
fn serde_field_error(message: &str) -> FieldError {
    let field = message.split('`').nth(1).unwrap_or("body").to_string();
    let message = message.split(" at line ").next().unwrap_or(message).to_string();
    FieldError { field, message }
}

/// Register the JSON/query/path error handlers on an app.
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config(256 * 1024)).app_data(query_config()).app_data(path_config());
}
