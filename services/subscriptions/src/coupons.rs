//! Coupons and promotion codes: what admins create, what a customer redeems, and the discount a
//! charge gets. Each function taking a connection runs inside the caller's transaction.
//!
//! A redemption takes the code's and the coupon's counters with a guarded UPDATE
//! (`redeemed < max_redemptions`) and records one row per (code, user), all in the transaction
//! that creates the subscription or attaches the discount, so a refusal anywhere takes nothing.

use crate::domain::discount::{self, Duration, Eligibility, Off, Priced};
use crate::error::SubscriptionError;
use crate::store::charges::Charge;
use crate::store::coupons::{self as store, ChargeDiscount, Coupon, FullCoupon, PromotionCode, SubscriptionDiscount};
use crate::store::subscriptions::Subscription;
use crate::store::tiers::Tier;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{ChargeLine, LineKind};
use events::catalog::subscriptions as ev;
use events::outbox;
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A coupon as an admin asks for it (checked by [`new_coupon`]).
pub struct CouponTerms {
    pub name: String,
    pub percent_off: Option<Decimal>,
    pub amount_off: BTreeMap<String, Decimal>,
    pub duration: String,
    pub duration_in_months: Option<i32>,
    pub tiers: Option<Vec<String>>,
    pub max_redemptions: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub first_purchase_only: bool,
}

fn field(name: &str, message: impl Into<String>) -> SubscriptionError {
    Problem::field(name, message).into()
}

/// Check an admin's terms and build the coupon row (with its amounts keyed by currency code).
pub fn new_coupon(
    terms: CouponTerms,
    known_tiers: &[String],
    now: DateTime<Utc>,
) -> Result<(Coupon, BTreeMap<String, Decimal>), SubscriptionError> {
    let name = terms.name.trim().to_string();
    // Characters, as the message and the document's maxLength say, not bytes.
    if name.is_empty() || name.chars().count() > 100 {
        return Err(field("name", "must be 1-100 characters"));
    }
    let amounts = discount::check_off(terms.percent_off, &terms.amount_off)?;
    let duration = Duration::parse(&terms.duration, terms.duration_in_months).map_err(|e| field("duration", e))?;
    if let Some(tiers) = &terms.tiers {
        if tiers.is_empty() || tiers.iter().any(|t| !known_tiers.contains(t)) {
            return Err(field("tiers", "a non-empty list of known tier codes, or null for every tier"));
        }
    }
    discount::check_limits(terms.max_redemptions, terms.expires_at, now)?;
    let coupon = Coupon {
        id: Uuid::now_v7(),
        name,
        percent_off: terms.percent_off,
        duration: duration.as_str().into(),
        duration_in_months: terms.duration_in_months,
        tiers: terms.tiers,
        max_redemptions: terms.max_redemptions,
        redeemed: 0,
        expires_at: terms.expires_at,
        first_purchase_only: terms.first_purchase_only,
        active: true,
        created_at: now,
    };
    Ok((coupon, amounts))
}

/// Check a new promotion code for `coupon`.
pub fn new_code(
    coupon: &FullCoupon,
    code: &str,
    max_redemptions: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<PromotionCode, SubscriptionError> {
    if !coupon.coupon.active {
        return Err(SubscriptionError::Illegal("the coupon is deactivated".into()));
    }
    if !discount::valid_code(code) {
        return Err(field("code", "3-40 letters, digits, '-' or '_'"));
    }
    discount::check_limits(max_redemptions, expires_at, now)?;
    Ok(PromotionCode {
        id: Uuid::now_v7(),
        coupon_id: coupon.coupon.id,
        code: code.to_string(),
        max_redemptions,
        redeemed: 0,
        expires_at,
        active: true,
        created_at: now,
    })
}

/// Redeem `code` for `sub` (priced in `tier`'s currency): eligibility, one redemption per user
/// and code, both limits, the subscription's discount and `subscriptions.coupon.redeemed.v1`.
pub async fn redeem(
    conn: &mut AsyncPgConnection,
    code: &str,
    sub: &Subscription,
    tier: &Tier,
    now: DateTime<Utc>,
) -> Result<SubscriptionDiscount, SubscriptionError> {
    let promo = store::find_code(conn, code.trim()).await?.ok_or(SubscriptionError::UnknownPromotionCode)?;
    let coupon = store::find_coupon(conn, promo.coupon_id)
        .await?
        .ok_or_else(|| Problem::internal("promotion code without coupon"))?;
    let currency: Currency = tier.currency.trim().parse().map_err(Problem::internal)?;
    let off = coupon.off();
    let has_paid_before =
        if coupon.coupon.first_purchase_only { store::has_paid_before(conn, sub.user_id).await? } else { false };
    discount::eligible(&Eligibility {
        now,
        active: promo.active && coupon.coupon.active,
        expires_at: &[promo.expires_at, coupon.coupon.expires_at],
        in_scope: discount::covers_tier(coupon.coupon.tiers.as_deref(), &tier.code),
        off: &off,
        currency,
        first_purchase_only: coupon.coupon.first_purchase_only,
        has_bought_before: has_paid_before,
    })
    .map_err(|r| SubscriptionError::PromotionCode(discount::refusal(r)))?;
    if store::discount_of(conn, sub.id).await?.is_some() {
        return Err(SubscriptionError::DiscountExists);
    }
    let redemption_id = Uuid::now_v7();
    if !store::insert_redemption(conn, redemption_id, &promo, sub.user_id, sub.id, now).await? {
        return Err(SubscriptionError::AlreadyRedeemed);
    }
    if !store::take_redemption(conn, &promo).await? {
        return Err(SubscriptionError::RedemptionLimitReached);
    }
    let held = SubscriptionDiscount {
        subscription_id: sub.id,
        coupon_id: coupon.coupon.id,
        promotion_code_id: promo.id,
        code: promo.code.clone(),
        applied_at: now,
        once_period_start: None,
    };
    store::insert_discount(conn, &held).await?;
    let amounts_off =
        coupon.amounts.iter().filter_map(|(c, a)| Some(Money::round(*a, c.parse::<Currency>().ok()?))).collect();
    outbox::enqueue(
        conn,
        &ev::CouponRedeemed {
            redemption_id,
            coupon_id: coupon.coupon.id,
            promotion_code_id: promo.id,
            code: promo.code,
            user_id: sub.user_id,
            subscription_id: sub.id,
            percent_off: coupon.coupon.percent_off.map(|p| p.normalize()),
            amounts_off,
            duration: coupon.coupon.duration.clone(),
            duration_in_months: coupon.coupon.duration_in_months,
            redeemed_at: now,
        },
    )
    .await?;
    Ok(held)
}

/// The discount a new charge of `tier` at `list` gets, for the period starting at
/// `period_start`, if the subscription holds one that covers it. A `once` discount is marked
/// spent on that period here (its dunning retries price the same period, so they keep it).
pub async fn price_charge(
    conn: &mut AsyncPgConnection,
    sub: &Subscription,
    tier: &Tier,
    list: Money,
    period_start: DateTime<Utc>,
) -> Result<Option<(Priced, FullCoupon, String)>, SubscriptionError> {
    let Some(held) = store::discount_of(conn, sub.id).await? else {
        return Ok(None);
    };
    let coupon =
        store::find_coupon(conn, held.coupon_id).await?.ok_or_else(|| Problem::internal("discount without coupon"))?;
    let duration = coupon.duration();
    if !discount::covers(duration, held.applied_at, held.once_period_start, period_start) {
        return Ok(None);
    }
    // A coupon restricted to tiers stops at a change to another tier (a downgrade at renewal).
    if coupon.coupon.tiers.as_ref().is_some_and(|t| !t.contains(&tier.code)) {
        return Ok(None);
    }
    let off = coupon.off();
    let Some(priced) = discount::price(list, &off) else {
        return Ok(None);
    };
    if priced.discount.amount.is_zero() {
        return Ok(None);
    }
    if duration == Duration::Once {
        store::mark_once_used(conn, sub.id, period_start).await?;
    }
    let description = discount::describe(&held.code, &off, list.currency);
    Ok(Some((priced, coupon, description)))
}

/// Keep what a charge took off, for its lines (written with the charge).
pub async fn record_charge_discount(
    conn: &mut AsyncPgConnection,
    charge_id: Uuid,
    coupon: &FullCoupon,
    description: &str,
    priced: &Priced,
) -> Result<(), SubscriptionError> {
    store::insert_charge_discount(
        conn,
        &ChargeDiscount {
            charge_id,
            coupon_id: coupon.coupon.id,
            description: description.to_string(),
            amount: priced.discount.amount,
        },
    )
    .await?;
    Ok(())
}

/// The lines billing gets for a period charge: the plan at its list price and, when discounted, a
/// negative `discount` line; they add up to the charge's (net) amount.
pub async fn lines(
    conn: &mut AsyncPgConnection,
    charge: &Charge,
    description: &str,
) -> Result<Vec<ChargeLine>, SubscriptionError> {
    let discount = store::charge_discount(conn, charge.id).await?;
    let off = discount.as_ref().map(|d| d.amount).unwrap_or_default();
    let mut lines =
        vec![ChargeLine { kind: LineKind::Plan, description: description.to_string(), amount: charge.amount + off }];
    if let Some(d) = discount {
        lines.push(ChargeLine { kind: LineKind::Discount, description: d.description, amount: -d.amount });
    }
    Ok(lines)
}

/// What a subscription's discount looks like to its owner.
pub struct HeldView {
    pub held: SubscriptionDiscount,
    pub coupon: FullCoupon,
}

pub async fn held(conn: &mut AsyncPgConnection, subscription_id: Uuid) -> Result<Option<HeldView>, SubscriptionError> {
    let Some(held) = store::discount_of(conn, subscription_id).await? else {
        return Ok(None);
    };
    let coupon =
        store::find_coupon(conn, held.coupon_id).await?.ok_or_else(|| Problem::internal("discount without coupon"))?;
    Ok(Some(HeldView { held, coupon }))
}

impl HeldView {
    pub fn off(&self) -> Off {
        self.coupon.off()
    }
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        discount::ends_at(self.coupon.duration(), self.held.applied_at)
    }
}
