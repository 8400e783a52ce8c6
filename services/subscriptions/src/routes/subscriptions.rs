//! The caller's own subscription. Everything is keyed by the caller's user id: nobody can name
//! another user's subscription.

use super::PROBLEM;
use crate::billing::Payment;
use crate::error::SubscriptionError;
use crate::operations::{self, ChangePlan, FirstPayment, Resumed, Subscribe, UpgradeCharge};
use crate::store::subscriptions::{self as subs, Subscription};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::idempotency::{self, IdempotencyKey, OptionalIdempotencyKey, Step};
use platform::money::Money;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierRequest {
    /// A paid tier's code (see `GET /api/subscriptions/tiers`).
    #[schema(example = "pro")]
    pub tier: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// A paid tier's code (see `GET /api/subscriptions/tiers`).
    #[schema(example = "pro")]
    pub tier: String,
    /// What the subscription is billed in for its life: `USD`, `EUR`, `GBP` or `BRL`, among the
    /// tier's `prices`. Default: the tier's `price` currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    /// A promotion code (case-insensitive) whose coupon applies to this subscription's charges.
    #[serde(default)]
    #[schema(example = "SPRING")]
    pub promotion_code: Option<String>,
    /// Sandbox only (`SUBSCRIPTIONS_TEST_CLOCKS=true`): a test clock of the caller's own
    /// (`POST /api/test-clocks`). The subscription then lives in the clock's time: it starts at the
    /// clock's `now` and renews, retries and ends only when the clock is advanced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: Uuid,
    pub tier: String,
    /// What it is billed in for its life (renewals, upgrades, resumes).
    #[schema(value_type = String, example = "USD")]
    pub currency: String,
    /// `incomplete` (first payment pending), `incomplete_expired`, `trialing` (free trial: access,
    /// no charge until `trial_end`), `active`, `past_due` (renewal failed, retrying), `paused` (no
    /// charges, no access until it resumes) or `canceled`.
    pub status: String,
    pub current_period_start: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// A downgrade scheduled for the period end.
    pub pending_tier: Option<String>,
    /// While `past_due`: the next renewal attempt.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// A pause scheduled for the period end (status `active`) or under way (status `paused`).
    pub pause: Option<PauseView>,
    /// The end of the free trial it began with (the first charge is made then, off-session with
    /// the saved default card); `null` without a trial.
    pub trial_end: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The test clock it lives on (sandbox only); absent for a subscription in real time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PauseView {
    /// Billing periods it lasts (1-3).
    pub periods: i32,
    /// The end of the last paid period: no access from then.
    pub starts_at: DateTime<Utc>,
    /// When it resumes by itself, charging a new period anchored there.
    pub resumes_at: DateTime<Utc>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id,
            tier: s.tier.clone(),
            currency: s.currency.trim().to_string(),
            status: s.status.clone(),
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            pending_tier: s.pending_tier.clone(),
            next_retry_at: s.next_retry_at,
            pause: match (s.pause_periods, s.pause_starts_at, s.pause_resumes_at) {
                (Some(periods), Some(starts_at), Some(resumes_at)) => {
                    Some(PauseView { periods, starts_at, resumes_at })
                }
                _ => None,
            },
            trial_end: s.trial_end,
            created_at: s.created_at,
            test_clock: s.test_clock_id,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SubscriptionCreated)]
pub struct Created {
    /// `incomplete` until the first payment succeeds; `trialing` (with `trial_end`) when a trial
    /// started.
    subscription: SubscriptionView,
    /// `null` when a promotion code took the whole first period off (nothing to pay; the
    /// subscription is `active` at once), or when a trial started (charged at its end).
    payment_id: Option<Uuid>,
    /// Confirm the first payment with Stripe using this.
    client_secret: Option<String>,
}

/// Subscribe to a paid tier: an `incomplete` subscription and the first month's payment.
///
/// The subscription becomes `active` when the payment (confirmed by the client with
/// `client_secret`) succeeds. A `promotion_code` is redeemed with the subscription (one per user
/// and code, within the code's and coupon's limits) and discounts the charges its duration covers;
/// a first month discounted to zero needs no payment and is `active` at once.
///
/// A tier with `trial_days` starts a free trial instead (once per user and tier, ever): status
/// `trialing`, access now, no payment; at `trial_end` the saved default card is charged
/// off-session, or the subscription ends. A tier in `card_required` mode needs a saved default
/// card to start the trial (422 `payment_method_required`).
#[utoipa::path(post, path = "/api/subscriptions", tag = "subscriptions", operation_id = "subscribe",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = SubscribeRequest,
    responses((status = 201, body = Created),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 402, body = Problem, content_type = PROBLEM, description = "payment_failed: billing refused the payment"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "subscription_exists, idempotency_in_progress, promotion_code_already_redeemed, redemption_limit_reached"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "payment_method_required (the tier's trial needs a saved default card), validation_failed (unknown or free `tier`; `currency` not a price currency or the tier not sold in it; unknown, inactive, expired or inapplicable `promotion_code`; `test_clock` not a clock of the caller's or test clocks off), idempotency_key_reused"),
        (status = 502, body = Problem, content_type = PROBLEM, description = "billing_unavailable")))]
pub async fn subscribe(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<SubscribeRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/subscriptions");
    // Derived from the key: a retry after billing could not be reached is the same subscription,
    // so it reaches the same payment at billing.
    let subscription_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{scope}\u{1f}{}", key.0).as_bytes());
    let has_card = card_for_trial(&state, user, &req.tier).await?;
    let (st, st2, billing) = (state.clone(), state.clone(), state.billing.clone());
    // No transaction is held while billing creates the payment (`idempotency::execute_with_call`).
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req.clone(),
        move |conn| {
            Box::pin(async move {
                let options = operations::SubscribeOptions {
                    promotion_code: req.promotion_code.as_deref(),
                    test_clock: req.test_clock,
                    has_card,
                };
                Ok(
                    match operations::prepare_subscribe(
                        conn,
                        &st,
                        user,
                        &req.tier,
                        req.currency.as_deref(),
                        subscription_id,
                        options,
                    )
                    .await?
                    {
                        Subscribe::Pay(first) => Step::Call(first),
                        Subscribe::Free(sub) | Subscribe::Trial(sub) => Step::Done(
                            StatusCode::CREATED,
                            Created { subscription: (&sub).into(), payment_id: None, client_secret: None },
                        ),
                    },
                )
            })
        },
        async move |first: FirstPayment| {
            let payment = crate::billing::create_payment(
                &billing,
                first.user_id,
                first.amount,
                first.charge_id,
                &first.description,
                false,
                &first.lines,
            )
            .await?;
            Ok((first, payment))
        },
        move |conn, (first, payment): (FirstPayment, Payment)| {
            Box::pin(async move {
                let sub = operations::record_first_payment(conn, &st2, &first, &payment).await?;
                Ok((
                    StatusCode::CREATED,
                    Created {
                        subscription: (&sub).into(),
                        payment_id: Some(payment.id),
                        client_secret: payment.client_secret,
                    },
                ))
            })
        },
    )
    .await
}

/// Billing's answer to "has the user a saved default card", asked (with no transaction open) only
/// when the tier's trial needs one; `None` otherwise.
async fn card_for_trial(state: &State, user: Uuid, tier: &str) -> Result<Option<bool>, Problem> {
    let chosen = {
        let mut conn = state.pool.get().await?;
        crate::store::tiers::find(&mut conn, tier).await.map_err(SubscriptionError::from)?
    };
    match chosen {
        Some(t) if crate::domain::trial::needs_card_check(t.trial_days, &t.trial_mode) => {
            Ok(Some(crate::billing::has_default_card(&state.billing, user).await?))
        }
        _ => Ok(None),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MySubscription)]
pub struct MeView {
    /// The live (or most recent) subscription; `null` for a user who never subscribed.
    subscription: Option<SubscriptionView>,
    /// The tier the caller gets now, from a subscription, a license seat or a reward month.
    effective_tier: String,
    /// The discount the subscription holds (a redeemed promotion code), if any.
    discount: Option<DiscountView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DiscountView {
    /// The promotion code redeemed.
    code: String,
    coupon_id: Uuid,
    /// The coupon's name.
    name: String,
    /// `null` for an amount-off coupon.
    #[schema(value_type = Option<String>, example = "50")]
    percent_off: Option<String>,
    /// Amount-off coupons: the amount per currency.
    amount_off: Vec<Money>,
    /// `once` | `repeating` | `forever`
    duration: String,
    duration_in_months: Option<i32>,
    applied_at: DateTime<Utc>,
    /// `repeating`: periods starting from then are charged in full.
    ends_at: Option<DateTime<Utc>>,
}

impl From<crate::coupons::HeldView> for DiscountView {
    fn from(v: crate::coupons::HeldView) -> Self {
        let ends_at = v.ends_at();
        let c = v.coupon;
        Self {
            code: v.held.code,
            coupon_id: c.coupon.id,
            name: c.coupon.name.clone(),
            percent_off: c.coupon.percent_off.map(|p| p.normalize().to_string()),
            amount_off: super::coupons::amounts_view(&c.amounts),
            duration: c.coupon.duration.clone(),
            duration_in_months: c.coupon.duration_in_months,
            applied_at: v.held.applied_at,
            ends_at,
        }
    }
}

/// The caller's live (or most recent) subscription and the tier they effectively have.
#[utoipa::path(get, path = "/api/subscriptions/me", tag = "subscriptions", operation_id = "getMySubscription",
    security(("bearer" = [])),
    responses((status = 200, body = MeView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user")))]
pub async fn me(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let mut conn = state.pool.get().await?;
    let (entitlement, sub) =
        crate::entitlements::compute_with_subscription(&mut conn, user, state.clock.now(), &state.tier_table).await?;
    let discount = match &sub {
        Some(s) => crate::coupons::held(&mut conn, s.id).await?.map(DiscountView::from),
        None => None,
    };
    Ok(HttpResponse::Ok().json(MeView {
        subscription: sub.as_ref().map(SubscriptionView::from),
        effective_tier: entitlement.tier,
        discount,
    }))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountRequest {
    /// A promotion code (case-insensitive).
    #[schema(example = "SPRING")]
    pub promotion_code: String,
}

/// Redeem a promotion code on the caller's active (or trialing) subscription.
///
/// The discount applies from the next charge (the next renewal) for as long as the coupon's
/// duration covers; the period already paid is not re-priced. A subscription holds one discount.
#[utoipa::path(post, path = "/api/subscriptions/me/discount", tag = "subscriptions", operation_id = "applySubscriptionDiscount",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = DiscountRequest,
    responses((status = 200, body = MeView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no live subscription"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "illegal_transition (not active), discount_exists, promotion_code_already_redeemed, redemption_limit_reached, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (unknown, inactive, expired or inapplicable `promotion_code`), idempotency_key_reused")))]
pub async fn apply_discount(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<DiscountRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/subscriptions/me/discount");
    let st = state.clone();
    let code = req.promotion_code.clone();
    idempotency::execute(&state.pool, &scope, &key, &req, move |conn| {
        Box::pin(async move {
            let sub = operations::apply_discount(conn, &st, user, &code).await?;
            let discount = crate::coupons::held(conn, sub.id).await?.map(DiscountView::from);
            let entitlement = crate::entitlements::compute(conn, user, st.clock.now(), &st.tier_table).await?;
            Ok((
                StatusCode::OK,
                MeView { subscription: Some((&sub).into()), effective_tier: entitlement.tier, discount },
            ))
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The tier to change to.
    pub tier: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ChangePreview)]
pub struct PreviewView {
    tier: String,
    /// Charged now (upgrades, prorated to the rest of the period); zero for downgrades, which
    /// apply at the period end.
    amount: Money,
    /// `now` (upgrade) or `period_end` (downgrade).
    #[schema(example = "now")]
    applies: &'static str,
}

/// What changing the caller's active subscription to another tier would charge, and when it applies.
#[utoipa::path(get, path = "/api/subscriptions/me/change/preview", tag = "subscriptions",
    operation_id = "previewSubscriptionChange", security(("bearer" = [])), params(PreviewQuery),
    responses((status = 200, body = PreviewView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no active subscription"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "same_tier, illegal_transition"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (missing or unknown `tier`, or one with no price in the subscription's currency)")))]
pub async fn preview(
    state: web::Data<State>,
    principal: Principal,
    q: Query<PreviewQuery>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let mut conn = state.pool.get().await?;
    let sub = subs::latest(&conn, user)
        .await?
        .filter(|s| s.status == "active" || s.status == "trialing")
        .ok_or(SubscriptionError::NoSubscription)?;
    let (_, next, p) = operations::preview(&mut conn, &state, &sub, &q.tier).await?;
    Ok(HttpResponse::Ok().json(PreviewView {
        tier: next.code,
        amount: p.amount,
        applies: if p.applies_now { "now" } else { "period_end" },
    }))
}

/// Change tier: upgrades apply now, downgrades at the period end.
///
/// An upgrade charges the prorated difference on the saved card (net of the subscription's
/// discount when a `repeating` or `forever` coupon covers the period); a downgrade is scheduled
/// as `pending_tier`. During a trial the plan changes now either way, with no charge (the first
/// charge, at the trial's end, is at the new plan's price); a change to Free ends the trial then.
#[utoipa::path(post, path = "/api/subscriptions/me/change", tag = "subscriptions", operation_id = "changeSubscription",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = TierRequest,
    responses((status = 200, body = SubscriptionView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 402, body = Problem, content_type = PROBLEM, description = "payment_failed: the upgrade charge was declined"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no live subscription"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "same_tier, illegal_transition, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (unknown `tier`, or one with no price in the subscription's currency), idempotency_key_reused"),
        (status = 502, body = Problem, content_type = PROBLEM, description = "billing_unavailable")))]
pub async fn change(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<TierRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/subscriptions/me/change");
    let (st, st2, st3) = (state.clone(), state.clone(), state.clone());
    // An upgrade's charge is taken with no transaction open (`idempotency::execute_with_call`).
    let response = idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req.clone(),
        move |conn| {
            Box::pin(async move {
                Ok(match operations::prepare_change(conn, &st, user, &req.tier).await? {
                    ChangePlan::Done(sub) => Step::Done(StatusCode::OK, SubscriptionView::from(&sub)),
                    ChangePlan::Charge(upgrade) => Step::Call(upgrade),
                })
            })
        },
        async move |upgrade: UpgradeCharge| {
            let payment = crate::billing::create_payment(
                &st2.billing,
                upgrade.user_id,
                upgrade.amount,
                upgrade.charge_id,
                &upgrade.description,
                true,
                &upgrade.lines,
            )
            .await?;
            if payment.status != "succeeded" {
                let (sub_id, charge_id, p) = (upgrade.subscription_id, upgrade.charge_id, payment.clone());
                platform::db::transaction(&st2.pool, move |conn| {
                    Box::pin(async move { operations::record_declined(conn, sub_id, charge_id, &p).await })
                })
                .await?;
                return Err(SubscriptionError::PaymentDeclined(
                    payment.failure_code.unwrap_or_else(|| payment.status.clone()),
                )
                .into());
            }
            Ok((upgrade, payment))
        },
        move |conn, (upgrade, payment): (UpgradeCharge, Payment)| {
            Box::pin(async move {
                let sub = operations::record_upgrade_payment(conn, &st3, &upgrade, &payment).await?;
                Ok((StatusCode::OK, SubscriptionView::from(&sub)))
            })
        },
    )
    .await;
    // Again after the commit: a feature check racing the transaction may have cached the old tier.
    state.cache.invalidate(user);
    response
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Keep access until the period end (an active or trialing subscription: a trial is then never
    /// charged), or cancel at once.
    pub at_period_end: bool,
}

/// Cancel the caller's subscription, now or at the period end.
#[utoipa::path(post, path = "/api/subscriptions/me/cancel", tag = "subscriptions", operation_id = "cancelSubscription",
    security(("bearer" = [])),
    request_body = CancelRequest,
    responses((status = 200, body = SubscriptionView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no live subscription"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "illegal_transition"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed")))]
pub async fn cancel(
    state: web::Data<State>,
    principal: Principal,
    body: Json<CancelRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let at_period_end = body.at_period_end;
    let st = state.clone();
    let sub = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move { operations::cancel(conn, &st, user, at_period_end).await })
    })
    .await?;
    state.cache.invalidate(user);
    Ok(HttpResponse::Ok().json(SubscriptionView::from(&sub)))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Billing periods to pause for, 1 to 3.
    #[schema(minimum = 1, maximum = 3, example = 1)]
    pub periods: i32,
}

/// Pause the caller's active subscription for 1 to 3 billing periods from the end of the paid one.
///
/// Access continues until the period end (nothing is refunded); then the subscription is `paused`:
/// no charges, feature checks answer as for Free. It resumes by itself after `periods` periods, or
/// earlier with `POST /api/subscriptions/me/resume`; either way a new period anchored at the resume
/// is charged on the saved card. Refused for a subscription that is not `active` (trialing,
/// incomplete, past_due, canceled, paused) or has a pause or a cancellation scheduled.
#[utoipa::path(post, path = "/api/subscriptions/me/pause", tag = "subscriptions", operation_id = "pauseSubscription",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = PauseRequest,
    responses((status = 200, body = SubscriptionView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no live subscription"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "illegal_transition (not active, already paused or pausing, canceling), idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`periods` outside 1-3), idempotency_key_reused")))]
pub async fn pause(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<PauseRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/subscriptions/me/pause");
    let st = state.clone();
    let periods = req.periods;
    let response = idempotency::execute(&state.pool, &scope, &key, &req, move |conn| {
        Box::pin(async move {
            let sub = operations::pause(conn, &st, user, periods).await?;
            Ok((StatusCode::OK, SubscriptionView::from(&sub)))
        })
    })
    .await;
    state.cache.invalidate(user);
    response
}

/// Withdraw a cancellation, downgrade or pause scheduled for the period end, or end a pause now.
///
/// Ending a pause (status `paused`) starts a new period anchored now and charges it on the saved
/// card at once, so it needs an `Idempotency-Key` (400 without one); a declined charge leaves the
/// subscription `past_due` with the usual retries. Withdrawing something scheduled moves no money
/// and takes the key optionally.
#[utoipa::path(post, path = "/api/subscriptions/me/resume", tag = "subscriptions", operation_id = "resumeSubscription",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Required to end a pause (it charges); replays the first response")),
    responses((status = 200, body = SubscriptionView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required: ending a pause without a key"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no live subscription"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "illegal_transition: nothing is scheduled or paused; idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "idempotency_key_reused")))]
pub async fn resume(
    state: web::Data<State>,
    principal: Principal,
    key: OptionalIdempotencyKey,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let response = match key.0 {
        None => {
            let st = state.clone();
            let done = platform::db::transaction(&state.pool, move |conn| {
                Box::pin(async move { operations::resume(conn, &st, user, false).await })
            })
            .await?;
            match done {
                Resumed::Withdrawn(sub) => Ok(HttpResponse::Ok().json(SubscriptionView::from(&sub))),
                Resumed::Charge(_) => Err(Problem::internal("a charge without an idempotency key")),
            }
        }
        Some(key) => resume_with_key(&state, user, key).await,
    };
    state.cache.invalidate(user);
    response
}

/// Resume under the key: a pause that ends is charged with no transaction open, and a failure to
/// reach billing leaves the charge to the scheduler (the subscription has resumed either way).
async fn resume_with_key(state: &web::Data<State>, user: Uuid, key: IdempotencyKey) -> Result<HttpResponse, Problem> {
    let scope = format!("{user}:POST /api/subscriptions/me/resume");
    let (st, st2) = (state.clone(), state.clone().into_inner());
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &serde_json::Value::Null,
        move |conn| {
            Box::pin(async move {
                Ok(match operations::resume(conn, &st, user, true).await? {
                    Resumed::Withdrawn(sub) => Step::Done(StatusCode::OK, SubscriptionView::from(&sub)),
                    Resumed::Charge(charge) => Step::Call(charge),
                })
            })
        },
        async move |charge: operations::RenewalCharge| {
            let id = charge.subscription_id;
            if let Err(e) = crate::scheduler::charge_renewal(&st2, charge).await {
                tracing::warn!(subscription = %id, error = %e, "resume charge: left to the scheduler");
            }
            Ok::<_, Problem>(id)
        },
        move |conn, id: Uuid| {
            Box::pin(async move {
                let sub = subs::lock(conn, id).await?.ok_or_else(|| Problem::internal("subscription missing"))?;
                Ok((StatusCode::OK, SubscriptionView::from(&sub)))
            })
        },
    )
    .await
}
