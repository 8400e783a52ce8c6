//! Course promotion codes and their redemptions.

use super::schema::{promotion_code_amounts, promotion_codes, purchases};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::discount::Off;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promotion_codes)]
pub struct PromotionCode {
    pub id: Uuid,
    pub code: String,
    pub funded_by: String,
    pub instructor_id: Option<Uuid>,
    pub percent_off: Option<Decimal>,
    pub course_ids: Option<Vec<Uuid>>,
    pub categories: Option<Vec<String>>,
    pub max_redemptions: Option<i32>,
    pub redeemed: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub first_purchase_only: bool,
    pub active: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A code with its amounts off per currency (empty for a percent-off code).
#[derive(Debug, Clone)]
pub struct FullCode {
    pub code: PromotionCode,
    pub amounts: BTreeMap<String, Decimal>,
}

impl FullCode {
    pub fn off(&self) -> Off {
        match self.code.percent_off {
            Some(p) => Off::Percent(p),
            None => Off::Amount(self.amounts.clone()),
        }
    }
}

/// Insert a code (stored upper case); `false` when its code is taken (the unique index).
pub async fn insert(
    conn: &mut AsyncPgConnection,
    code: &PromotionCode,
    amounts: &BTreeMap<String, Decimal>,
) -> QueryResult<bool> {
    let inserted =
        diesel::insert_into(promotion_codes::table).values(code).on_conflict_do_nothing().execute(conn).await?;
    if inserted == 0 {
        return Ok(false);
    }
    let rows: Vec<_> = amounts
        .iter()
        .map(|(c, a)| {
            (
                promotion_code_amounts::promotion_code_id.eq(code.id),
                promotion_code_amounts::currency.eq(c.as_str()),
                promotion_code_amounts::amount.eq(*a),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(promotion_code_amounts::table).values(rows).execute(conn).await?;
    }
    Ok(true)
}

async fn amounts_of(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<BTreeMap<String, Decimal>> {
    let rows: Vec<(String, Decimal)> = promotion_code_amounts::table
        .filter(promotion_code_amounts::promotion_code_id.eq(id))
        .select((promotion_code_amounts::currency, promotion_code_amounts::amount))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(c, a)| (c.trim().to_string(), a)).collect())
}

/// The code a buyer typed, case-insensitively (codes are stored upper case).
pub async fn find_by_code(conn: &mut AsyncPgConnection, typed: &str) -> QueryResult<Option<FullCode>> {
    let found = promotion_codes::table
        .filter(promotion_codes::code.eq(typed.trim().to_ascii_uppercase()))
        .select(PromotionCode::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(code) = found else { return Ok(None) };
    let amounts = amounts_of(conn, code.id).await?;
    Ok(Some(FullCode { code, amounts }))
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<FullCode>> {
    let found = promotion_codes::table.find(id).select(PromotionCode::as_select()).first(conn).await.optional()?;
    let Some(code) = found else { return Ok(None) };
    let amounts = amounts_of(conn, code.id).await?;
    Ok(Some(FullCode { code, amounts }))
}

/// Newest first after the `(created_at, id)` cursor; `instructor`: only the codes they fund.
pub async fn list(
    conn: &mut AsyncPgConnection,
    instructor: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<FullCode>> {
    let mut q = promotion_codes::table.into_boxed();
    if let Some(instructor) = instructor {
        q = q.filter(promotion_codes::instructor_id.eq(instructor));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            promotion_codes::created_at.lt(at).or(promotion_codes::created_at.eq(at).and(promotion_codes::id.lt(id))),
        );
    }
    let rows: Vec<PromotionCode> = q
        .order((promotion_codes::created_at.desc(), promotion_codes::id.desc()))
        .limit(limit)
        .select(PromotionCode::as_select())
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let amounts: Vec<(Uuid, String, Decimal)> = promotion_code_amounts::table
        .filter(promotion_code_amounts::promotion_code_id.eq_any(&ids))
        .select((
            promotion_code_amounts::promotion_code_id,
            promotion_code_amounts::currency,
            promotion_code_amounts::amount,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|code| {
            let amounts =
                amounts.iter().filter(|(id, ..)| *id == code.id).map(|(_, c, a)| (c.trim().to_string(), *a)).collect();
            FullCode { code, amounts }
        })
        .collect())
}

/// Deactivate a code; `owner`: only if that instructor funds it. `None`: no such code (of
/// theirs); `Some(true)`: deactivated now, `Some(false)`: it already was.
pub async fn deactivate(conn: &mut AsyncPgConnection, id: Uuid, owner: Option<Uuid>) -> QueryResult<Option<bool>> {
    let mut q = promotion_codes::table.find(id).select(promotion_codes::id).into_boxed();
    if let Some(owner) = owner {
        q = q.filter(promotion_codes::instructor_id.eq(owner));
    }
    if q.first::<Uuid>(conn).await.optional()?.is_none() {
        return Ok(None);
    }
    // Guarded by `active`: of two concurrent deactivations the second waits for the first's row
    // lock, then finds nothing to change.
    let changed = diesel::update(promotion_codes::table.find(id).filter(promotion_codes::active))
        .set(promotion_codes::active.eq(false))
        .execute(conn)
        .await?;
    Ok(Some(changed == 1))
}

/// The codes' redemption counter ([`platform::discount::take_redemption`]).
pub const COUNTER: platform::discount::Counter = platform::discount::Counter("promotion_codes");

/// Give the purchase's redemption back, once: stamps the purchase, then frees the slot.
pub async fn release(
    conn: &mut AsyncPgConnection,
    purchase_id: Uuid,
    code_id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    let stamped = diesel::update(purchases::table.find(purchase_id).filter(purchases::promotion_released_at.is_null()))
        .set(purchases::promotion_released_at.eq(at))
        .execute(conn)
        .await?;
    if stamped == 0 {
        return Ok(false);
    }
    diesel::update(promotion_codes::table.find(code_id).filter(promotion_codes::redeemed.gt(0)))
        .set(promotion_codes::redeemed.eq(promotion_codes::redeemed - 1))
        .execute(conn)
        .await?;
    Ok(true)
}

/// Whether the buyer completed any purchase before (for first-purchase-only codes).
pub async fn has_bought_before(conn: &mut AsyncPgConnection, buyer: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        purchases::table.filter(purchases::buyer_id.eq(buyer)).filter(purchases::completed_at.is_not_null()),
    ))
    .get_result(conn)
    .await
}
