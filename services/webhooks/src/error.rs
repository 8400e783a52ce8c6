//! Webhooks' errors, mapped to problem+json in one place.

use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error("no webhook endpoint {0}")]
    EndpointNotFound(uuid::Uuid),
    #[error("no event {0} was received")]
    EventNotFound(uuid::Uuid),
    /// The URL may never be called (SSRF guard) or is not a URL.
    #[error("{0}")]
    Url(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Problem(#[from] Problem),
}

impl From<diesel::result::Error> for WebhooksError {
    fn from(e: diesel::result::Error) -> Self {
        WebhooksError::Problem(e.into())
    }
}

impl From<platform::db::PoolError> for WebhooksError {
    fn from(e: platform::db::PoolError) -> Self {
        WebhooksError::Problem(e.into())
    }
}

impl From<WebhooksError> for Problem {
    fn from(e: WebhooksError) -> Self {
        use WebhooksError as E;
        let detail = e.to_string();
        match e {
            E::EndpointNotFound(_) => Problem::not_found("webhook endpoint"),
            E::EventNotFound(_) => Problem::not_found("event").with_detail(detail),
            E::Url(_) => Problem::field("url", detail),
            E::Internal(cause) => Problem::internal(cause),
            E::Problem(p) => p,
        }
    }
}
