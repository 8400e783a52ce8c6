//! Marketplace's errors, mapped to problem+json in one place.

use actix_web::http::StatusCode;
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error("course not found")]
    CourseNotFound,
    #[error("review not found")]
    ReviewNotFound,
    #[error("payout not found")]
    PayoutNotFound,
    #[error("only the course's instructor may do this")]
    NotCourseOwner,
    #[error("you cannot buy your own course")]
    OwnCourse,
    #[error("you already own this course")]
    AlreadyOwned,
    #[error("the course is not published")]
    NotPublished,
    #[error("only a user who owns the course may review it")]
    NotAnOwner,
    #[error("you have already reviewed this course; edit it with PUT /api/courses/{0}/reviews/mine")]
    AlreadyReviewed(uuid::Uuid),
    #[error("the instructor has already replied to this review")]
    AlreadyReplied,
    #[error("the available balance {balance} is below the minimum payout of {minimum}")]
    BelowMinimumPayout { balance: String, minimum: String },
    #[error("the package is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedContent(String),
    #[error("billing is unavailable: {0}")]
    BillingUnavailable(String),
    #[error("rewards is unavailable: {0}")]
    RewardsUnavailable(String),
    /// Rewards refused the voucher: its 422 (a `voucher_*` code naming `voucher_code`) goes to the
    /// buyer unchanged.
    #[error("the voucher cannot be used: {}", .0.code)]
    VoucherRefused(Problem),
    #[error(transparent)]
    Problem(#[from] Problem),
}

impl From<diesel::result::Error> for MarketError {
    fn from(e: diesel::result::Error) -> Self {
        MarketError::Problem(e.into())
    }
}

impl From<platform::db::PoolError> for MarketError {
    fn from(e: platform::db::PoolError) -> Self {
        MarketError::Problem(e.into())
    }
}

impl From<MarketError> for Problem {
    fn from(e: MarketError) -> Self {
        use MarketError as E;
        let detail = e.to_string();
        match e {
            E::CourseNotFound => Problem::not_found("course"),
            E::ReviewNotFound => Problem::not_found("review"),
            E::PayoutNotFound => Problem::not_found("payout"),
            E::NotCourseOwner | E::NotAnOwner => Problem::forbidden().with_detail(detail),
            E::OwnCourse => Problem::conflict("own_course", detail),
            E::AlreadyOwned => Problem::conflict("already_owned", detail),
            E::NotPublished => Problem::conflict("course_not_published", detail),
            E::AlreadyReviewed(_) => Problem::conflict("already_reviewed", detail),
            E::AlreadyReplied => Problem::conflict("already_replied", detail),
            E::BelowMinimumPayout { .. } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "payout_below_minimum", "Balance too low")
                    .with_detail(detail)
            }
            E::TooLarge { .. } => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The package is too large")
                    .with_detail(detail)
            }
            E::UnsupportedContent(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The package type is not accepted",
            )
            .with_detail(detail),
            E::BillingUnavailable(cause) => {
                tracing::warn!(%cause, "billing unavailable");
                Problem::new(StatusCode::BAD_GATEWAY, "billing_unavailable", "The payment service is unavailable")
            }
            E::RewardsUnavailable(cause) => {
                tracing::warn!(%cause, "rewards unavailable");
                Problem::new(StatusCode::BAD_GATEWAY, "rewards_unavailable", "The rewards service is unavailable")
                    .with_detail("the voucher could not be checked; retry with the same Idempotency-Key")
            }
            E::VoucherRefused(p) => p,
            E::Problem(p) => p,
        }
    }
}
