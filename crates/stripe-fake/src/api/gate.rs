//! What every `/v1` call goes through before its handler: counted, authenticated, and possibly faulted.

use std::time::Duration;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpMessage, HttpResponse};

use crate::controls::Fault;
use crate::error::ApiError;
use crate::state::{ApiKey, Shared};

pub(crate) enum Admission {
    Pass,
    Reject(HttpResponse),
    DelayResponse(Duration),
}

pub(crate) fn admit(req: &ServiceRequest) -> Admission {
    let Some(shared) = req.app_data::<web::Data<Shared>>().cloned() else {
        return Admission::Reject(HttpResponse::InternalServerError().finish());
    };
    // Counted before anything can refuse the call: tests assert on calls *received*, retries included.
    let pattern = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
    shared.controls.count(format!("{} {pattern}", req.method()));

    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(key) = header.and_then(api_key_from_header) else {
        return Admission::Reject(
            ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the Authorization header, \
                 using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
            .response(),
        );
    };
    let key = key.as_str();
    if !shared.config.api_keys.iter().any(|k| k == key) {
        let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        return Admission::Reject(
            ApiError::unauthorized(format!("Invalid API Key provided: sk_test_****{tail}")).response(),
        );
    }
    req.extensions_mut().insert(ApiKey(key.to_owned()));

    match shared.controls.next_fault() {
        None => Admission::Pass,
        Some(Fault::Status(status)) => Admission::Reject(ApiError::injected(status).response()),
        Some(Fault::DelayResponse(delay)) => Admission::DelayResponse(delay),
    }
}

/// Bearer, or Basic with the key as the user name (what `curl -u sk_test_...:` from Stripe's docs sends).
fn api_key_from_header(header: &str) -> Option<String> {
    use base64::Engine;

    let key = if let Some(token) = header.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else {
        let encoded = header.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        decoded.split(':').next().unwrap_or_default().to_owned()
    };
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::api_key_from_header;

    #[test]
    fn reads_bearer_and_basic_credentials() {
        assert_eq!(api_key_from_header("Bearer sk_test_1").as_deref(), Some("sk_test_1"));
        // base64("sk_test_1:")
        assert_eq!(api_key_from_header("Basic c2tfdGVzdF8xOg==").as_deref(), Some("sk_test_1"));
        for bad in ["", "Bearer ", "Basic !!!", "Basic Og==", "Token sk_test_1"] {
            assert_eq!(api_key_from_header(bad), None, "{bad}");
        }
    }
}
