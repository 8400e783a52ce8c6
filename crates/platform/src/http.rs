//! HTTP plumbing shared by every service: request ids, trace context, and the input rules of
//! [`crate::input`] applied to every body, query string and path, with errors naming the field.

use crate::input;
use crate::problem::{FieldError, Problem};
use crate::telemetry;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest, ResponseError};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
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
    // Recorded with `%` (Display): the pretty log format prints them unquoted
    // (`url.path=/api/tokens/redeem`), which log searches and the hygiene test rely on.
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        http.request.method = %req.method(),
        url.path = %req.path(),
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    let echoed = HeaderValue::from_str(&request_id).ok();
    req.extensions_mut().insert(RequestId(request_id));
    telemetry::set_parent_from_headers(&span, req.headers());
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    span.record("http.response.status_code", status);
    tracing::debug!(parent: &span, status, elapsed_ms = started.elapsed().as_millis() as u64, "request done");
    if let Some(v) = echoed {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

fn is_valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// JSON extractor settings (size limit, content type, syntax errors) for [`Json`], which reads
/// the body through actix's own extractor first.
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

/// Query-string errors as problem+json, for a handler still on actix's `web::Query` (use [`Query`]:
/// this handler cannot name the field as a path).
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

/// A JSON request body: actix's extractor reads it (limit, content type, syntax), then every
/// string is checked for control characters ([`input::check_json`]) and `T` is deserialized with
/// errors naming the field as a path (`price.amount`). Request structs use
/// `#[serde(deny_unknown_fields)]`, so an unknown field is a 422 too. Use this, never `web::Json`.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// A query string deserialized with errors named `query.<name>`; control characters are refused
/// for every route already by [`screen_input`]. Use this, never `web::Query`.
#[derive(Debug)]
pub struct Query<T>(pub T);

macro_rules! wrapper {
    ($name:ident) => {
        impl<T> $name<T> {
            pub fn into_inner(self) -> T {
                self.0
            }
        }
        impl<T> Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }
        impl<T> DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    };
}
wrapper!(Json);
wrapper!(Query);

// The one place actix's JSON extractor is used: it reads the body (limit, type, syntax).
#[allow(clippy::disallowed_types)]
impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = body.await?.into_inner();
            input::require_object("", &value).map_err(invalid)?;
            input::check_json("", &value).map_err(invalid)?;
            input::from_json_value("", value).map(Json).map_err(invalid)
        })
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(input::from_query(req.query_string()).map(Query).map_err(invalid))
    }
}

fn invalid(e: FieldError) -> Error {
    Problem::validation(vec![e]).into()
}

/// The operations of a service as its OpenAPI document describes them (generated from the
/// handlers and their query structs): which methods each path takes and which query parameters
/// each operation reads. One truth for what a client may send: registered as app data,
/// [`screen_input`] refuses any other query parameter (on routes that read no query too) and
/// [`method_not_allowed`] names exactly the documented methods in `Allow`.
#[derive(Debug, Clone, Default)]
pub struct Operations(Arc<HashMap<String, Vec<Operation>>>);

/// A method of a documented path and the query parameters it reads.
type Operation = (String, Vec<String>);

impl Operations {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let doc = serde_json::to_value(doc).unwrap_or_default();
        let mut table = HashMap::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let mut methods = Vec::new();
            for (method, op) in item.as_object().into_iter().flatten() {
                let names = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect();
                methods.push((method.to_ascii_uppercase(), names));
            }
            table.insert(path.clone(), methods);
        }
        Self(Arc::new(table))
    }

    /// The documented methods of the route `pattern`, `None` when the document does not have it.
    pub fn allowed(&self, pattern: &str) -> Option<String> {
        let methods = self.0.get(pattern)?;
        Some(methods.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join(", "))
    }

    /// Refuse a parameter the operation `method pattern` does not take. Operations the document
    /// does not describe (internal and health routes) are not checked.
    pub fn check_query(&self, method: &str, pattern: &str, query: &str) -> Result<(), FieldError> {
        let known = self.0.get(pattern).and_then(|ms| ms.iter().find(|(m, _)| m == method));
        let Some((_, known)) = known else {
            return Ok(());
        };
        match form_urlencoded::parse(query.as_bytes()).find(|(name, _)| !known.iter().any(|k| k == name)) {
            None => Ok(()),
            Some((name, _)) => Err(FieldError {
                field: format!("query.{name}"),
                message: if known.is_empty() {
                    "unknown parameter: this operation takes no query parameters".to_string()
                } else {
                    format!("unknown parameter; this operation takes {}", known.join(", "))
                },
            }),
        }
    }
}

/// Refuse control characters in the path and the query string of every request, routed or not,
/// before any handler runs: a handler that reads no query or takes the path as a string is
/// covered too. A path segment is named by the route's parameter (`path.id`). With
/// [`Operations`] registered, a query parameter the operation does not take is refused as well.
pub async fn screen_input(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let decoded = input::percent_decode(req.path());
    let pattern = req.match_pattern().filter(|p| p != FALLBACK_PATTERN);
    let checked = input::check_path(pattern.as_deref(), &decoded)
        .and_then(|()| input::check_query(req.query_string()))
        .and_then(|()| match (req.app_data::<Operations>(), &pattern) {
            (Some(ops), Some(pattern)) => ops.check_query(req.method().as_str(), pattern, req.query_string()),
            _ => Ok(()),
        });
    if let Some(pattern) = &pattern {
        // The metrics label: the route table was just walked for it, do not walk it again.
        req.extensions_mut().insert(crate::metrics::RouteLabel(crate::metrics::intern_route(pattern)));
    }
    match checked {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => Ok(req.into_response(Problem::validation(vec![e]).error_response())),
    }
}

/// The pattern of the resource registered last by [`fallback`].
const FALLBACK_PATTERN: &str = "/{unrouted:.*}";

/// Register last: answers what no route took. actix's method guards record, on the request, every
/// method a route on this path would have taken; a resource without routes answers 405 with
/// exactly those in `Allow` (nothing recorded: no route has this path). [`method_not_allowed`]
/// turns that into problem+json, so a wrong method is a 405 with `Allow` and an unknown path a 404.
pub fn fallback(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(FALLBACK_PATTERN).wrap(from_fn(method_not_allowed)));
}

/// Wrap a resource with it: actix's bare 405 becomes problem+json keeping `Allow`; a 405 without
/// `Allow` (the [`fallback`]: no route on this path at all) becomes a 404. Anything else passes.
pub async fn method_not_allowed(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // actix records the methods of every route whose pattern matches the path, `/api/courses/{id}`
    // for `/api/courses/list` too; the document knows the methods of the route actually meant.
    let documented = req.app_data::<Operations>().and_then(|ops| {
        let pattern = req.request().resource_map().match_pattern(req.path())?;
        ops.allowed(&pattern)
    });
    let res = next.call(req).await?;
    if res.status() != actix_web::http::StatusCode::METHOD_NOT_ALLOWED {
        return Ok(res.map_into_boxed_body());
    }
    let recorded = res.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).map(dedupe_methods);
    let allow = recorded.filter(|a| !a.is_empty()).map(|a| documented.unwrap_or(a));
    let (req, _) = res.into_parts();
    let response = match allow.filter(|a| !a.is_empty()) {
        Some(allow) => {
            let mut response = Problem::method_not_allowed(&allow).error_response();
            if let Ok(v) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, v);
            }
            response
        }
        None => Problem::not_found("route").error_response(),
    };
    Ok(ServiceResponse::new(req, response))
}

/// Several routes may share a path pattern (`/api/courses/{id}` takes GET and PATCH); each
/// recorded its method, some twice.
fn dedupe_methods(allow: &str) -> String {
    let mut methods: Vec<&str> = Vec::new();
    for m in allow.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    methods.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn allow_lists_each_method_once() {
        assert_eq!(super::dedupe_methods("GET, GET, PATCH,GET"), "GET, PATCH");
    }

    #[test]
    fn query_parameters_are_the_documented_ones() {
        #[derive(utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        #[allow(dead_code)]
        struct ListQuery {
            q: Option<String>,
            limit: Option<i64>,
        }
        #[utoipa::path(get, path = "/api/things/{id}", params(("id" = String, Path), ListQuery), responses((status = 200)))]
        #[allow(dead_code)]
        fn list() {}
        #[utoipa::path(post, path = "/api/things/{id}", params(("id" = String, Path)), responses((status = 200)))]
        #[allow(dead_code)]
        fn create() {}
        #[derive(utoipa::OpenApi)]
        #[openapi(paths(list, create))]
        struct Doc;
        let ops = super::Operations::from_openapi(&<Doc as utoipa::OpenApi>::openapi());
        let pattern = "/api/things/{id}";
        assert!(ops.check_query("GET", pattern, "q=x&limit=3").is_ok());
        assert_eq!(ops.check_query("GET", pattern, "q=x&id=3").map_err(|e| e.field), Err("query.id".to_string()));
        assert_eq!(ops.check_query("POST", pattern, "q=x").map_err(|e| e.field), Err("query.q".to_string()));
        assert!(ops.check_query("POST", pattern, "").is_ok());
        assert!(ops.check_query("GET", "/internal/x", "anything=1").is_ok(), "undocumented routes are not checked");
        assert_eq!(ops.allowed(pattern).as_deref(), Some("GET, POST"));
        assert_eq!(ops.allowed("/internal/x"), None);
    }

    #[test]
    fn status_of_a_wrong_method_is_405() {
        let p = crate::Problem::method_not_allowed("GET");
        assert_eq!(p.status_code(), actix_web::http::StatusCode::METHOD_NOT_ALLOWED);
    }
}
