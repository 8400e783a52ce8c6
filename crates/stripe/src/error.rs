//! Stripe's error object decoded into one enum, so callers branch on the kind of failure (card declined vs. our bug
//! vs. Stripe being down) rather than on HTTP status codes.

use serde::Deserialize;

use crate::resources::PaymentIntent;

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The card was declined or needs authentication (HTTP 402). Not retryable with the same payment method.
    /// `payment_intent` is the intent's state after the failure, when Stripe includes it.
    #[error("card error (code {code:?}, decline code {decline_code:?}): {message}")]
    Card {
        code: Option<String>,
        decline_code: Option<String>,
        message: String,
        payment_intent: Option<Box<PaymentIntent>>,
    },
    /// The request was wrong (bad parameter, missing object (`code == "resource_missing"`, HTTP 404), illegal state).
    #[error("invalid request (HTTP {status}, code {code:?}, param {param:?}): {message}")]
    InvalidRequest { status: u16, code: Option<String>, message: String, param: Option<String> },
    /// The idempotency key was reused with different parameters: a bug in how the caller derives keys.
    #[error("idempotency error: {message}")]
    Idempotency { message: String },
    /// The secret key was missing, wrong or revoked (HTTP 401).
    #[error("authentication with Stripe failed: {message}")]
    Authentication { message: String },
    /// HTTP 429; still failing after the client's own retries.
    #[error("rate limited by Stripe: {message}")]
    RateLimited { message: String },
    /// Stripe-side failure (HTTP 5xx or an unexpected status); still failing after retries.
    #[error("Stripe API error (HTTP {status}): {message}")]
    Api { status: u16, message: String },
    /// Could not reach Stripe or the connection broke; still failing after retries. The request may or may not have
    /// been applied: retry later with the same idempotency key.
    #[error("network error talking to Stripe: {0}")]
    Network(String),
    /// No answer within the per-request timeout; still failing after retries. Same caveat as `Network`.
    #[error("request to Stripe timed out")]
    Timeout,
    /// Stripe answered 2xx with a body this client could not read.
    #[error("could not decode Stripe's response: {0}")]
    Decode(String),
    /// Refused locally before sending (bad id, metadata over Stripe's limits, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl StripeError {
    /// A bounded word for metrics: which kind of failure this was.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Card { .. } => "card_error",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Idempotency { .. } => "idempotency_error",
            Self::Authentication { .. } => "authentication_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::Api { .. } => "api_error",
            Self::Network(_) => "network_error",
            Self::Timeout => "timeout",
            Self::Decode(_) => "decode_error",
            Self::InvalidArgument(_) => "invalid_argument",
        }
    }

    /// Whether sending the same request again (same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network(_) | Self::Timeout | Self::RateLimited { .. } => true,
            Self::Api { status, .. } => *status >= 500 || *status == 409,
            _ => false,
        }
    }

    /// The object named in the request does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::InvalidRequest { status: 404, .. })
            || matches!(self, Self::InvalidRequest { code: Some(code), .. } if code == "resource_missing")
    }

    /// Stripe's machine-readable `code`, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Card { code, .. } | Self::InvalidRequest { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Builds the error for a non-2xx answer from its status and body.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body) else {
            // Proxies and load balancers answer with HTML; keep a short, safe excerpt for the logs.
            let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
            return Self::by_status(status, excerpt);
        };
        let e = envelope.error;
        let message = e.message.unwrap_or_else(|| format!("HTTP {status} without a message"));
        match (status, e.kind.as_deref()) {
            (401, _) => Self::Authentication { message },
            (429, _) | (_, Some("rate_limit_error")) => Self::RateLimited { message },
            (_, Some("card_error")) => Self::Card {
                code: e.code,
                decline_code: e.decline_code,
                message,
                payment_intent: e.payment_intent.map(Box::new),
            },
            (_, Some("idempotency_error")) => Self::Idempotency { message },
            (400..=499, Some("invalid_request_error")) => {
                Self::InvalidRequest { status, code: e.code, message, param: e.param }
            }
            _ => Self::by_status(status, message),
        }
    }

    fn by_status(status: u16, message: String) -> Self {
        match status {
            401 => Self::Authentication { message },
            429 => Self::RateLimited { message },
            400..=499 if status != 409 => Self::InvalidRequest { status, code: None, message, param: None },
            _ => Self::Api { status, message },
        }
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    /// Lenient: a payment intent that fails to decode must not hide the card error itself.
    #[serde(default, deserialize_with = "lenient_payment_intent")]
    payment_intent: Option<PaymentIntent>,
}

fn lenient_payment_intent<'de, D>(deserializer: D) -> Result<Option<PaymentIntent>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decodes_card_error_with_payment_intent() {
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline",
            "message":"Your card was declined.","payment_intent":{"id":"pi_1","object":"payment_intent","amount":999,
            "amount_received":0,"currency":"usd","status":"requires_payment_method","metadata":{}}}}"#;
        match StripeError::from_response(402, body) {
            StripeError::Card { code, decline_code, message, payment_intent } => {
                assert_eq!(code.as_deref(), Some("card_declined"));
                assert_eq!(decline_code.as_deref(), Some("generic_decline"));
                assert_eq!(message, "Your card was declined.");
                assert_eq!(payment_intent.map(|pi| pi.id), Some("pi_1".to_owned()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn decodes_invalid_request_and_not_found() {
        let body = br#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id",
            "message":"No such payment_intent: 'pi_x'"}}"#;
        let err = StripeError::from_response(404, body);
        assert!(err.is_not_found());
        assert!(!err.is_retryable());
        assert_eq!(err.code(), Some("resource_missing"));
        let body = br#"{"error":{"type":"invalid_request_error","message":"Missing required param: amount.",
            "param":"amount","code":"parameter_missing"}}"#;
        match StripeError::from_response(400, body) {
            StripeError::InvalidRequest { status: 400, param, code, .. } => {
                assert_eq!(param.as_deref(), Some("amount"));
                assert_eq!(code.as_deref(), Some("parameter_missing"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn decodes_idempotency_auth_rate_limit_and_api_errors() {
        let idem = br#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#;
        assert!(matches!(StripeError::from_response(400, idem), StripeError::Idempotency { .. }));
        let auth = br#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****"}}"#;
        assert!(matches!(StripeError::from_response(401, auth), StripeError::Authentication { .. }));
        let rate = br#"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}"#;
        let err = StripeError::from_response(429, rate);
        assert!(matches!(err, StripeError::RateLimited { .. }) && err.is_retryable());
        let api = br#"{"error":{"type":"api_error","message":"Something went wrong on Stripe's end."}}"#;
        let err = StripeError::from_response(500, api);
        assert!(matches!(err, StripeError::Api { status: 500, .. }) && err.is_retryable());
    }

    #[test]
    fn non_json_bodies_fall_back_to_status() {
        let err = StripeError::from_response(502, b"<html>Bad Gateway</html>");
        assert!(matches!(err, StripeError::Api { status: 502, .. }) && err.is_retryable());
        let err = StripeError::from_response(404, b"");
        assert!(err.is_not_found());
        assert!(matches!(StripeError::from_response(401, b"nope"), StripeError::Authentication { .. }));
    }
}
