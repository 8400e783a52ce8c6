//! RFC 9457 problem details: the one error shape every service answers with.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A problem+json body. `code` is the stable, machine-readable part clients switch on.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds a client should wait (429, 503); sent as `Retry-After`, not in the body.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str) -> Self {
        Self {
            type_uri: format!("https://errors.monetization.example/{code}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: None,
            code: code.to_string(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "The request is not valid") }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError { field: field.into(), message: message.into() }])
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", "The request is malformed").with_detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication is required").with_detail(detail)
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "You may not do this")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found").with_detail(format!("{what} not found"))
    }

    /// A method no route on this path takes; the response also carries `Allow: <allow>`.
    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed")
            .with_detail(format!("this path takes {allow}"))
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict").with_detail(detail)
    }

    /// A 500 that says nothing about the cause; the cause goes to the log only.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal server error")
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable").with_detail(detail)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.code)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        Problem::status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(Problem::status_code(self));
        builder.content_type(CONTENT_TYPE);
        if let Some(secs) = self.retry_after {
            builder.insert_header(("Retry-After", secs.to_string()));
        }
        builder.json(self)
    }
}

impl From<diesel::result::Error> for Problem {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &err {
            Error::NotFound => Problem::not_found("record"),
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Problem::conflict("concurrent_update", "a concurrent update won; retry the request")
            }
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().contains("out of range") || info.message().contains("overflow") =>
            {
                Problem::field("amount", "the amount is out of range")
            }
            _ => Problem::internal(err),
        }
    }
}

/// Seconds a client is told to wait (`Retry-After`) when no database connection was free in time.
pub const POOL_RETRY_AFTER_SECS: u64 = 1;

impl From<crate::db::PoolError> for Problem {
    /// Both cases are a documented 503 with `Retry-After`: every connection stayed busy for the
    /// pool's whole wait (`overloaded`), or none could be opened (`unavailable`). Nothing was written.
    fn from(err: crate::db::PoolError) -> Self {
        let problem = match err {
            crate::db::PoolError::TimedOut => {
                tracing::warn!("no database connection became free in time");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Service overloaded")
                    .with_detail("every database connection stayed busy; retry after the time given")
            }
            crate::db::PoolError::User(err) => {
                tracing::error!(error = %err, "database pool unavailable");
                Problem::unavailable("the database is unavailable")
            }
        };
        Problem { retry_after: Some(POOL_RETRY_AFTER_SECS), ..problem }
    }
}
