//! CORS for browser clients: only allowlisted origins get CORS headers.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, VARY};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id, traceparent";
const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const EXPOSE_HEADERS: &str = "x-request-id, retry-after, idempotent-replayed, etag";

#[derive(Clone)]
pub struct CorsOrigins(pub Vec<String>);

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let allowed = req.app_data::<web::Data<CorsOrigins>>().cloned();
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .filter(|o| allowed.as_ref().is_some_and(|a| a.0.iter().any(|x| x == o)))
        .map(str::to_string);
    let preflight =
        req.method() == actix_web::http::Method::OPTIONS && req.headers().contains_key("access-control-request-method");
    if let (Some(origin), true) = (&origin, preflight) {
        let res = HttpResponse::NoContent()
            .insert_header(("access-control-allow-origin", origin.as_str()))
            .insert_header(("access-control-allow-methods", ALLOW_METHODS))
            .insert_header(("access-control-allow-headers", ALLOW_HEADERS))
            .insert_header(("access-control-max-age", "600"))
            .insert_header((VARY, "Origin"))
            .finish();
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    if let Some(origin) = origin {
        let headers = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&origin) {
            headers
                .insert("access-control-allow-origin".parse().map_err(actix_web::error::ErrorInternalServerError)?, v);
        }
        headers.insert(
            "access-control-expose-headers".parse().map_err(actix_web::error::ErrorInternalServerError)?,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        headers.insert(VARY, HeaderValue::from_static("Origin"));
    }
    Ok(res.map_into_left_body())
}
