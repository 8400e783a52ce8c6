//! Subscriptions' errors, mapped to problem+json in one place.

use actix_web::http::StatusCode;
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("unknown tier {0:?}")]
    UnknownTier(String),
    #[error("the Free tier needs no subscription")]
    FreeTier,
    #[error("you already have a subscription")]
    AlreadySubscribed,
    #[error("you have no active subscription")]
    NoSubscription,
    #[error("already on this tier")]
    SameTier,
    #[error("{0}")]
    Illegal(String),
    /// The currency asked for at subscribe is not one prices are in, or the tier is not sold in it.
    #[error("{0}")]
    Currency(String),
    /// A change to a tier with no price in the subscription's currency.
    #[error("{0}")]
    TierUnpriced(String),
    #[error("{0}")]
    PauseRefused(crate::domain::lifecycle::PauseRefused),
    #[error("resuming a paused subscription charges it: send an Idempotency-Key")]
    KeyRequired,
    #[error("the payment was declined: {0}")]
    PaymentDeclined(String),
    #[error("billing is unavailable: {0}")]
    BillingUnavailable(String),
    #[error("unknown promotion code")]
    UnknownPromotionCode,
    #[error("{0}")]
    PromotionCode(&'static str),
    #[error("you already redeemed this promotion code")]
    AlreadyRedeemed,
    #[error("this promotion code has reached its redemption limit")]
    RedemptionLimitReached,
    #[error("the subscription already has a discount")]
    DiscountExists,
    #[error("a promotion code with this code exists")]
    CodeTaken,
    #[error(
        "this tier's free trial needs a saved default card: add one (POST /api/payments/methods/setup), then subscribe"
    )]
    TrialNeedsCard,
    /// The test-clock API where `SUBSCRIPTIONS_TEST_CLOCKS` is off (always so in production).
    #[error("test clocks are not enabled in this environment")]
    TestClocksOff,
    #[error("no such test clock")]
    TestClockNotFound,
    #[error("{1}")]
    TestClockField(&'static str, &'static str),
    #[error(transparent)]
    Problem(#[from] Problem),
}

impl From<diesel::result::Error> for SubscriptionError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            // The partial unique index on live subscriptions: a concurrent subscribe won.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                if info.constraint_name() == Some("subscriptions_one_live") =>
            {
                SubscriptionError::AlreadySubscribed
            }
            // Codes are unique case-insensitively.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                if info.constraint_name() == Some("promotion_codes_code") =>
            {
                SubscriptionError::CodeTaken
            }
            _ => SubscriptionError::Problem(e.into()),
        }
    }
}

impl From<crate::domain::lifecycle::PauseRefused> for SubscriptionError {
    fn from(e: crate::domain::lifecycle::PauseRefused) -> Self {
        SubscriptionError::PauseRefused(e)
    }
}

impl From<platform::db::PoolError> for SubscriptionError {
    fn from(e: platform::db::PoolError) -> Self {
        SubscriptionError::Problem(e.into())
    }
}

impl From<SubscriptionError> for Problem {
    fn from(e: SubscriptionError) -> Self {
        use SubscriptionError as E;
        match e {
            E::UnknownTier(_) => Problem::field("tier", e.to_string()),
            E::FreeTier => Problem::field("tier", e.to_string()),
            E::AlreadySubscribed => Problem::conflict("subscription_exists", e.to_string()),
            E::NoSubscription => Problem::not_found("subscription"),
            E::SameTier => Problem::conflict("same_tier", e.to_string()),
            E::Illegal(detail) => Problem::conflict("illegal_transition", detail),
            E::Currency(detail) => Problem::field("currency", detail),
            E::TierUnpriced(detail) => Problem::field("tier", detail),
            E::PauseRefused(crate::domain::lifecycle::PauseRefused::Periods) => {
                Problem::field("periods", e.to_string())
            }
            E::PauseRefused(_) => Problem::conflict("illegal_transition", e.to_string()),
            E::KeyRequired => Problem::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "This request needs an Idempotency-Key header",
            )
            .with_detail(e.to_string()),
            E::PaymentDeclined(detail) => {
                Problem::new(StatusCode::PAYMENT_REQUIRED, "payment_failed", "The payment failed").with_detail(detail)
            }
            E::BillingUnavailable(cause) => {
                tracing::warn!(%cause, "billing unavailable");
                Problem::new(StatusCode::BAD_GATEWAY, "billing_unavailable", "Billing is unavailable")
            }
            E::UnknownPromotionCode | E::PromotionCode(_) => Problem::field("promotion_code", e.to_string()),
            E::AlreadyRedeemed => Problem::conflict("promotion_code_already_redeemed", e.to_string()),
            E::RedemptionLimitReached => Problem::conflict("redemption_limit_reached", e.to_string()),
            E::DiscountExists => Problem::conflict("discount_exists", e.to_string()),
            E::CodeTaken => Problem::conflict("promotion_code_exists", e.to_string()),
            E::TrialNeedsCard => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "payment_method_required",
                "A saved default card is needed to start this trial",
            )
            .with_detail(e.to_string()),
            E::TestClocksOff => Problem::new(StatusCode::NOT_FOUND, "test_clocks_disabled", "Test clocks are off")
                .with_detail(e.to_string()),
            E::TestClockNotFound => Problem::not_found("test clock"),
            E::TestClockField(field, message) => Problem::field(field, message),
            E::Problem(p) => p,
        }
    }
}
