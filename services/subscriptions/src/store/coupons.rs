//! Coupons, promotion codes, redemptions and the discounts subscriptions and charges hold.

use super::schema::{
    charge_discounts, charges, coupon_amounts, coupons, promotion_codes, redemptions, subscription_discounts,
    subscriptions,
};
use crate::domain::discount::{Duration, Off};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = coupons)]
pub struct Coupon {
    pub id: Uuid,
    pub name: String,
    pub percent_off: Option<Decimal>,
    pub duration: String,
    pub duration_in_months: Option<i32>,
    pub tiers: Option<Vec<String>>,
    pub max_redemptions: Option<i32>,
    pub redeemed: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub first_purchase_only: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A coupon with its amounts off (empty for a percentage coupon).
#[derive(Debug, Clone)]
pub struct FullCoupon {
    pub coupon: Coupon,
    pub amounts: BTreeMap<String, Decimal>,
}

impl FullCoupon {
    pub fn off(&self) -> Off {
        match self.coupon.percent_off {
            Some(p) => Off::Percent(p),
            None => Off::Amount(self.amounts.clone()),
        }
    }

    /// Rows are written only through [`crate::coupons`], which checks the pair.
    pub fn duration(&self) -> Duration {
        Duration::parse(&self.coupon.duration, self.coupon.duration_in_months).unwrap_or(Duration::Once)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promotion_codes)]
pub struct PromotionCode {
    pub id: Uuid,
    pub coupon_id: Uuid,
    pub code: String,
    pub max_redemptions: Option<i32>,
    pub redeemed: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscription_discounts)]
pub struct SubscriptionDiscount {
    pub subscription_id: Uuid,
    pub coupon_id: Uuid,
    pub promotion_code_id: Uuid,
    pub code: String,
    pub applied_at: DateTime<Utc>,
    pub once_period_start: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = charge_discounts)]
pub struct ChargeDiscount {
    pub charge_id: Uuid,
    pub coupon_id: Uuid,
    pub description: String,
    pub amount: Decimal,
}

pub async fn insert_coupon(
    conn: &mut AsyncPgConnection,
    coupon: &Coupon,
    amounts: &BTreeMap<String, Decimal>,
) -> QueryResult<()> {
    diesel::insert_into(coupons::table).values(coupon).execute(conn).await?;
    let rows: Vec<_> = amounts
        .iter()
        .map(|(c, a)| {
            (coupon_amounts::coupon_id.eq(coupon.id), coupon_amounts::currency.eq(c), coupon_amounts::amount.eq(a))
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(coupon_amounts::table).values(rows).execute(conn).await?;
    }
    Ok(())
}

async fn amounts_of(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<(Uuid, String, Decimal)>> {
    coupon_amounts::table
        .filter(coupon_amounts::coupon_id.eq_any(ids))
        .select((coupon_amounts::coupon_id, coupon_amounts::currency, coupon_amounts::amount))
        .load(conn)
        .await
}

fn attach(rows: Vec<Coupon>, amounts: Vec<(Uuid, String, Decimal)>) -> Vec<FullCoupon> {
    rows.into_iter()
        .map(|coupon| {
            let amounts = amounts
                .iter()
                .filter(|(id, _, _)| *id == coupon.id)
                .map(|(_, c, a)| (c.trim().to_string(), a.normalize()))
                .collect();
            FullCoupon { coupon, amounts }
        })
        .collect()
}

pub async fn find_coupon(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<FullCoupon>> {
    let Some(coupon) = coupons::table.find(id).select(Coupon::as_select()).first(conn).await.optional()? else {
        return Ok(None);
    };
    let amounts = amounts_of(conn, &[id]).await?;
    Ok(attach(vec![coupon], amounts).pop())
}

/// Newest first, after the `(created_at, id)` cursor.
pub async fn list_coupons(
    conn: &mut AsyncPgConnection,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<FullCoupon>> {
    let mut q = coupons::table.into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(coupons::created_at.lt(at).or(coupons::created_at.eq(at).and(coupons::id.lt(id))));
    }
    let rows: Vec<Coupon> = q
        .order((coupons::created_at.desc(), coupons::id.desc()))
        .limit(limit)
        .select(Coupon::as_select())
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let amounts = amounts_of(conn, &ids).await?;
    Ok(attach(rows, amounts))
}

pub async fn deactivate_coupon(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::update(coupons::table.find(id)).set(coupons::active.eq(false)).execute(conn).await
}

pub async fn codes_of(conn: &mut AsyncPgConnection, coupon: Uuid) -> QueryResult<Vec<PromotionCode>> {
    promotion_codes::table
        .filter(promotion_codes::coupon_id.eq(coupon))
        .order(promotion_codes::created_at.asc())
        .select(PromotionCode::as_select())
        .load(conn)
        .await
}

pub async fn insert_code(conn: &mut AsyncPgConnection, code: &PromotionCode) -> QueryResult<()> {
    diesel::insert_into(promotion_codes::table).values(code).execute(conn).await.map(|_| ())
}

pub async fn deactivate_code(conn: &mut AsyncPgConnection, coupon: Uuid, id: Uuid) -> QueryResult<usize> {
    diesel::update(promotion_codes::table.find(id).filter(promotion_codes::coupon_id.eq(coupon)))
        .set(promotion_codes::active.eq(false))
        .execute(conn)
        .await
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// The promotion code `code`, case-insensitively.
pub async fn find_code(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<PromotionCode>> {
    promotion_codes::table
        .filter(lower(promotion_codes::code).eq(code.to_lowercase()))
        .select(PromotionCode::as_select())
        .first(conn)
        .await
        .optional()
}

/// Take one redemption of the code and of its coupon, each only while under its limit
/// ([`platform::discount::take_redemption`]). `false`: a limit is reached (the caller rolls back).
pub async fn take_redemption(conn: &mut AsyncPgConnection, code: &PromotionCode) -> QueryResult<bool> {
    use platform::discount::{take_redemption, Counter};
    Ok(take_redemption(conn, Counter("promotion_codes"), code.id).await?
        && take_redemption(conn, Counter("coupons"), code.coupon_id).await?)
}

/// Record a user's redemption; `false` if this user already redeemed this code.
pub async fn insert_redemption(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    code: &PromotionCode,
    user_id: Uuid,
    subscription_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(redemptions::table)
        .values((
            redemptions::id.eq(id),
            redemptions::promotion_code_id.eq(code.id),
            redemptions::coupon_id.eq(code.coupon_id),
            redemptions::user_id.eq(user_id),
            redemptions::subscription_id.eq(subscription_id),
            redemptions::redeemed_at.eq(now),
        ))
        .on_conflict((redemptions::promotion_code_id, redemptions::user_id))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether the user ever paid money for a subscription (a charge that succeeded for more than zero).
pub async fn has_paid_before(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<bool> {
    let theirs = subscriptions::table.filter(subscriptions::user_id.eq(user_id)).select(subscriptions::id);
    diesel::select(diesel::dsl::exists(
        charges::table
            .filter(charges::subscription_id.eq_any(theirs))
            .filter(charges::status.eq(super::charges::SUCCEEDED))
            .filter(charges::amount.gt(Decimal::ZERO)),
    ))
    .get_result(conn)
    .await
}

pub async fn insert_discount(conn: &mut AsyncPgConnection, d: &SubscriptionDiscount) -> QueryResult<()> {
    diesel::insert_into(subscription_discounts::table).values(d).execute(conn).await.map(|_| ())
}

pub async fn discount_of(
    conn: &mut AsyncPgConnection,
    subscription_id: Uuid,
) -> QueryResult<Option<SubscriptionDiscount>> {
    subscription_discounts::table
        .find(subscription_id)
        .select(SubscriptionDiscount::as_select())
        .first(conn)
        .await
        .optional()
}

/// A `once` discount is now spent on the period starting at `period_start`.
pub async fn mark_once_used(
    conn: &mut AsyncPgConnection,
    subscription_id: Uuid,
    period_start: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        subscription_discounts::table.find(subscription_id).filter(subscription_discounts::once_period_start.is_null()),
    )
    .set(subscription_discounts::once_period_start.eq(period_start))
    .execute(conn)
    .await
}

pub async fn insert_charge_discount(conn: &mut AsyncPgConnection, d: &ChargeDiscount) -> QueryResult<()> {
    diesel::insert_into(charge_discounts::table).values(d).on_conflict_do_nothing().execute(conn).await.map(|_| ())
}

pub async fn charge_discount(conn: &mut AsyncPgConnection, charge_id: Uuid) -> QueryResult<Option<ChargeDiscount>> {
    charge_discounts::table.find(charge_id).select(ChargeDiscount::as_select()).first(conn).await.optional()
}

/// Whether the charge that paid the period starting at `period_start` was discounted by
/// `coupon_id`: the renewal charge for that period (the latest attempt not failed or voided; it
/// is still pending while its success is being applied), or else the first charge.
async fn period_discounted(
    conn: &mut AsyncPgConnection,
    subscription_id: Uuid,
    coupon_id: Uuid,
    period_start: DateTime<Utc>,
) -> QueryResult<bool> {
    let renewal: Option<Uuid> = charges::table
        .filter(charges::subscription_id.eq(subscription_id))
        .filter(charges::kind.eq("renewal"))
        .filter(charges::period_end.eq(period_start))
        .filter(charges::status.ne_all(["failed", "voided"]))
        .order(charges::created_at.desc())
        .select(charges::id)
        .first(conn)
        .await
        .optional()?;
    let paying = match renewal {
        Some(id) => Some(id),
        None => charges::table
            .filter(charges::subscription_id.eq(subscription_id))
            .filter(charges::kind.eq("initial"))
            .select(charges::id)
            .first(conn)
            .await
            .optional()?,
    };
    let Some(paying) = paying else {
        return Ok(false);
    };
    Ok(charge_discount(conn, paying).await?.is_some_and(|d| d.coupon_id == coupon_id))
}

/// What the subscription recurrently pays for `tier` at `list` in the period that started at
/// `period_start`: the discount priced on `list`, when the subscription's discount is recurring
/// ([`crate::domain::discount::recurring`]), priced the charge that paid this period, and applies
/// to the tier and currency. `None`: the list price. A code added during a period (the period was
/// paid in full) counts from the first charge it prices; a `repeating` one stops with the first
/// charge after its months.
pub async fn recurring_discount(
    conn: &mut AsyncPgConnection,
    subscription_id: Uuid,
    tier: &str,
    list: platform::money::Money,
    period_start: Option<DateTime<Utc>>,
) -> QueryResult<Option<(crate::domain::discount::Priced, FullCoupon, SubscriptionDiscount)>> {
    let Some(period_start) = period_start else {
        return Ok(None);
    };
    let Some(held) = discount_of(conn, subscription_id).await? else {
        return Ok(None);
    };
    let Some(coupon) = find_coupon(conn, held.coupon_id).await? else {
        return Ok(None);
    };
    if !crate::domain::discount::recurring(coupon.duration())
        || coupon.coupon.tiers.as_ref().is_some_and(|t| !t.iter().any(|c| c == tier))
        || !period_discounted(conn, subscription_id, held.coupon_id, period_start).await?
    {
        return Ok(None);
    }
    Ok(crate::domain::discount::price(list, &coupon.off())
        .filter(|p| !p.discount.amount.is_zero())
        .map(|p| (p, coupon, held)))
}
