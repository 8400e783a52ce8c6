//! Subscriptions' part of the public API document.

use crate::domain::entitlement::Source;
use crate::routes::coupons::{CouponRequest, CouponView, PromotionCodeRequest, PromotionCodeView};
use crate::routes::features::FeatureAnswer;
use crate::routes::subscriptions::{
    CancelRequest, Created, DiscountRequest, DiscountView, MeView, PauseRequest, PauseView, PreviewView,
    SubscribeRequest, SubscriptionView, TierRequest,
};
use crate::routes::tiers::{TierList, TierView};
use platform::money::{Currency, Money};
use platform::problem::{FieldError, Problem};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::tiers::list,
        crate::routes::subscriptions::subscribe,
        crate::routes::subscriptions::me,
        crate::routes::subscriptions::preview,
        crate::routes::subscriptions::change,
        crate::routes::subscriptions::cancel,
        crate::routes::subscriptions::resume,
        crate::routes::subscriptions::pause,
        crate::routes::subscriptions::apply_discount,
        crate::routes::coupons::create,
        crate::routes::coupons::list,
        crate::routes::coupons::create_code,
        crate::routes::coupons::deactivate,
        crate::routes::coupons::deactivate_code,
        crate::routes::features::check,
        crate::routes::reports::subscriptions,
        crate::routes::test_clocks::create,
        crate::routes::test_clocks::list,
        crate::routes::test_clocks::get,
        crate::routes::test_clocks::advance,
        crate::routes::test_clocks::delete,
    ),
    components(schemas(
        TierList, TierView, TierRequest, SubscribeRequest, Created, SubscriptionView, MeView, PreviewView, CancelRequest, PauseRequest, PauseView,
        FeatureAnswer,
        Source, Money, Currency, Problem, FieldError, crate::reports::Row, DiscountRequest,
        DiscountView, CouponRequest, CouponView, PromotionCodeRequest, PromotionCodeView,
        crate::routes::test_clocks::TestClockRequest, crate::routes::test_clocks::AdvanceRequest,
        crate::routes::test_clocks::TestClockView
    )),
    tags((name = "subscriptions", description = "Tiers, the caller's subscription (proration, cancellation, pause, discounts) and feature checks, the admin subscriptions report, and admin coupons with their promotion codes; test clocks (sandbox only)"))
)]
pub struct ApiDoc;
