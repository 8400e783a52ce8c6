//! Stripe's error object with the HTTP status Stripe would use, built by the handlers and rendered in one place.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// Stripe's `type`: `invalid_request_error`, `card_error`, `idempotency_error`, `api_error`.
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub decline_code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// Card errors on a payment intent carry the intent's new state, as Stripe's do.
    pub payment_intent: Option<Box<Value>>,
    /// Card errors on a setup intent carry the intent's new state.
    pub setup_intent: Option<Box<Value>>,
    /// Stripe saves an idempotent result only once the endpoint started executing: parameter validation
    /// failures are not saved, so a corrected retry with the same key works.
    pub(crate) saved_for_idempotency: bool,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, code: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code,
            decline_code: None,
            message: message.into(),
            param: None,
            payment_intent: None,
            setup_intent: None,
            saved_for_idempotency: true,
        }
    }

    /// A parameter failed validation (400, not saved for idempotency).
    pub(crate) fn invalid_param(code: &'static str, param: &str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.to_owned()),
            saved_for_idempotency: false,
            ..Self::new(400, "invalid_request_error", Some(code), message)
        }
    }

    pub(crate) fn missing_param(param: &str) -> Self {
        Self::invalid_param("parameter_missing", param, format!("Missing required param: {param}."))
    }

    /// A state rule refused the request after it started executing (400, saved).
    pub(crate) fn invalid_state(code: &'static str, param: Option<&str>, message: impl Into<String>) -> Self {
        Self { param: param.map(str::to_owned), ..Self::new(400, "invalid_request_error", Some(code), message) }
    }

    /// `GET` or a reference to an object that does not exist: 404 on the object's own URL, 400 when named in a
    /// parameter, as Stripe does.
    pub(crate) fn no_such(object: &str, id: &str, param: &str, status: u16) -> Self {
        Self {
            param: Some(param.to_owned()),
            saved_for_idempotency: false,
            ..Self::new(status, "invalid_request_error", Some("resource_missing"), format!("No such {object}: '{id}'"))
        }
    }

    pub(crate) fn card(code: &'static str, decline_code: &'static str, message: &str, payment_intent: Value) -> Self {
        Self {
            decline_code: Some(decline_code),
            payment_intent: Some(Box::new(payment_intent)),
            ..Self::new(402, "card_error", Some(code), message)
        }
    }

    /// A card refused while setting up a SetupIntent: 402 with the intent's new state.
    pub(crate) fn setup_card(code: &'static str, decline_code: &'static str, message: &str, setup: Value) -> Self {
        Self {
            decline_code: Some(decline_code),
            setup_intent: Some(Box::new(setup)),
            ..Self::new(402, "card_error", Some(code), message)
        }
    }

    pub(crate) fn idempotency(key: &str) -> Self {
        Self {
            saved_for_idempotency: false,
            ..Self::new(
                400,
                "idempotency_error",
                None,
                format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used \
                     with. Try using a key other than '{key}' if you meant to execute a different request."
                ),
            )
        }
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self { saved_for_idempotency: false, ..Self::new(401, "invalid_request_error", None, message) }
    }

    /// What a fault injection answers: Stripe's generic server error, or its rate-limit error for 429.
    pub(crate) fn injected(status: u16) -> Self {
        let error = if status == 429 {
            Self::new(429, "invalid_request_error", Some("rate_limit"), "Too many requests (injected by stripe-fake).")
        } else {
            Self::new(status, "api_error", None, "Something went wrong on Stripe's end (injected by stripe-fake).")
        };
        Self { saved_for_idempotency: false, ..error }
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({
            "type": self.kind,
            "message": self.message,
        });
        if let Some(map) = error.as_object_mut() {
            let optional = [
                ("code", self.code.map(|c| Value::String(c.to_owned()))),
                ("decline_code", self.decline_code.map(|c| Value::String(c.to_owned()))),
                ("param", self.param.clone().map(Value::String)),
                ("payment_intent", self.payment_intent.as_deref().cloned()),
                ("setup_intent", self.setup_intent.as_deref().cloned()),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    map.insert(name.to_owned(), value);
                }
            }
            if let Some(code) = &self.code {
                map.insert("doc_url".to_owned(), Value::String(format!("https://stripe.com/docs/error-codes/{code}")));
            }
        }
        json!({ "error": error })
    }

    pub(crate) fn response(&self) -> HttpResponse {
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .insert_header(("Request-Id", crate::ids::request_id()))
            .json(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_stripe_error_object() {
        let e = ApiError::card("card_declined", "generic_decline", "Your card was declined.", json!({"id": "pi_1"}));
        let body = e.to_json();
        assert_eq!(body["error"]["type"], "card_error");
        assert_eq!(body["error"]["code"], "card_declined");
        assert_eq!(body["error"]["decline_code"], "generic_decline");
        assert_eq!(body["error"]["payment_intent"]["id"], "pi_1");
        assert_eq!(e.status, 402);
        let missing = ApiError::missing_param("amount").to_json();
        assert_eq!(missing["error"]["param"], "amount");
        assert!(missing["error"].get("decline_code").is_none());
    }
}
