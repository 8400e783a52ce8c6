//! Rewards' errors, mapped to problem+json in one place.

use crate::domain::voucher::Refusal;
use actix_web::http::StatusCode;
use platform::problem::FieldError;
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum RewardsError {
    #[error("{cost} tokens needed, {balance} available")]
    InsufficientTokens { cost: i64, balance: i64 },
    #[error("unknown catalogue item {0:?}")]
    UnknownItem(String),
    #[error("this Idempotency-Key already awarded tokens")]
    DuplicateAward,
    #[error("you cannot befriend yourself")]
    SelfFriendship,
    #[error("you are already friends")]
    AlreadyFriends,
    #[error("the friend limit of {0} is reached")]
    TooManyFriends(i64),
    #[error("no pending friend request from this user")]
    NoPendingRequest,
    #[error("not friends with this user")]
    NotFriends,
    #[error("{}", voucher_message(*.0))]
    Voucher(Refusal),
    #[error(transparent)]
    Problem(#[from] Problem),
}

fn voucher_message(r: Refusal) -> &'static str {
    match r {
        Refusal::NotFound => "no voucher of yours has this code",
        Refusal::Used => "this voucher is already used",
        Refusal::Expired => "this voucher has expired",
        Refusal::CurrencyMismatch => "this voucher is in another currency than the course",
    }
}

/// The stable `code` of each refusal; marketplace passes it on to the buyer unchanged.
pub fn voucher_code(r: Refusal) -> &'static str {
    match r {
        Refusal::NotFound => "voucher_not_found",
        Refusal::Used => "voucher_used",
        Refusal::Expired => "voucher_expired",
        Refusal::CurrencyMismatch => "voucher_currency_mismatch",
    }
}

impl From<diesel::result::Error> for RewardsError {
    fn from(e: diesel::result::Error) -> Self {
        RewardsError::Problem(e.into())
    }
}

impl From<platform::db::PoolError> for RewardsError {
    fn from(e: platform::db::PoolError) -> Self {
        RewardsError::Problem(e.into())
    }
}

impl From<RewardsError> for Problem {
    fn from(e: RewardsError) -> Self {
        use RewardsError as E;
        let detail = e.to_string();
        match e {
            E::InsufficientTokens { balance, .. } if balance < 0 => Problem::conflict(
                "insufficient_tokens",
                format!("{detail}: the balance is negative after a clawback; redemptions resume once it is positive"),
            ),
            E::InsufficientTokens { .. } => Problem::conflict("insufficient_tokens", detail),
            E::UnknownItem(_) => Problem::field("item", detail),
            E::DuplicateAward => Problem::conflict("duplicate_award", detail),
            E::SelfFriendship => Problem::field("user_id", detail),
            E::AlreadyFriends => Problem::conflict("already_friends", detail),
            E::TooManyFriends(_) => Problem::conflict("friend_limit_reached", detail),
            E::NoPendingRequest => Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found").with_detail(detail),
            E::NotFriends => Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found").with_detail(detail),
            E::Voucher(r) => Problem {
                errors: vec![FieldError { field: "voucher_code".into(), message: detail.clone() }],
                ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, voucher_code(r), "The voucher cannot be used")
            }
            .with_detail(detail),
            E::Problem(p) => p,
        }
    }
}
