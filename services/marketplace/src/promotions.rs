//! Course promotion codes: what an admin (platform-funded) or an instructor (funded from their
//! share, their own courses only) creates, and the redemption a purchase takes. Each function
//! taking a connection runs inside the caller's transaction, so a refusal takes nothing.

use crate::domain::promotion;
use crate::store::courses::{self, Course};
use crate::store::promotions::{self as store, FullCode, PromotionCode};
use crate::State;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::discount::{self, Priced};
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// `POST /api/courses/promotion-codes`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromotionCode {
    /// 3-40 letters, digits, `-` or `_`; matched case-insensitively, unique.
    #[schema(example = "SPRING25", min_length = 3, max_length = 40, pattern = "^[A-Za-z0-9_-]{3,40}$")]
    pub code: String,
    /// Percent off, above 0 and at most 100 (4 decimals). Give this or `amount_off`.
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "25")]
    pub percent_off: Option<Decimal>,
    /// An amount off per currency code (`{"USD": "5.00", "EUR": "4.50"}`); a purchase in another
    /// currency cannot use the code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub amount_off: BTreeMap<String, Decimal>,
    /// Only these courses, 1-100 (an instructor's code: required, all their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 100)]
    pub course_ids: Option<Vec<Uuid>>,
    /// Only courses of these categories (admins' codes), slugs of 1-50 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub categories: Option<Vec<String>>,
    /// Purchases that may hold it at once, at least 1; absent for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_redemptions: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Only for a buyer who never completed a purchase.
    #[serde(default)]
    pub first_purchase_only: bool,
}

fn field(name: &str, message: impl Into<String>) -> Problem {
    Problem::field(name, message)
}

/// Check the terms and build the code. `funder`: the instructor funding it, `None` for the
/// platform (an admin's code).
pub async fn create(
    conn: &mut AsyncPgConnection,
    req: NewPromotionCode,
    creator: Uuid,
    funder: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<FullCode, Problem> {
    let code = req.code.trim().to_ascii_uppercase();
    if !discount::valid_code(&code) {
        return Err(field("code", "3-40 letters, digits, '-' or '_'"));
    }
    let amounts = discount::check_off(req.percent_off, &req.amount_off)?;
    discount::check_limits(req.max_redemptions, req.expires_at, now)?;
    if req.categories.as_ref().is_some_and(|c| c.is_empty() || c.iter().any(|x| x.is_empty() || x.len() > 50)) {
        return Err(field("categories", "a non-empty list of category slugs, or null for every category"));
    }
    if req.course_ids.as_ref().is_some_and(|ids| ids.is_empty() || ids.len() > 100) {
        return Err(field("course_ids", "1-100 course ids, or null for every course"));
    }
    if let Some(instructor) = funder {
        // An instructor funds codes for their own courses only, named one by one.
        if req.categories.is_some() {
            return Err(field("categories", "an instructor's code names its courses (course_ids)"));
        }
        let Some(ids) = &req.course_ids else {
            return Err(field("course_ids", "an instructor's code names its courses"));
        };
        for id in ids {
            if courses::find(conn, *id).await?.is_none_or(|c| c.instructor_id != instructor) {
                return Err(field("course_ids", format!("{id} is not one of your courses")));
            }
        }
    }
    let row = PromotionCode {
        id: Uuid::now_v7(),
        code,
        funded_by: if funder.is_some() { promotion::INSTRUCTOR } else { promotion::PLATFORM }.to_string(),
        instructor_id: funder,
        percent_off: req.percent_off,
        course_ids: req.course_ids,
        categories: req.categories,
        max_redemptions: req.max_redemptions,
        redeemed: 0,
        expires_at: req.expires_at,
        first_purchase_only: req.first_purchase_only,
        active: true,
        created_by: creator,
        created_at: now,
    };
    if !store::insert(conn, &row, &amounts).await? {
        return Err(Problem::conflict("promotion_code_taken", "a promotion code with this code exists"));
    }
    Ok(FullCode { code: row, amounts })
}

/// A code applied to a purchase: the code and what it takes off.
pub struct Redeemed {
    pub code: FullCode,
    pub priced: Priced,
}

/// Check `typed` against the course and buyer and take one redemption (never beyond the limit,
/// however many purchases race for the last one).
pub async fn redeem(
    conn: &mut AsyncPgConnection,
    state: &State,
    typed: &str,
    course: &Course,
    price: Money,
    buyer: Uuid,
) -> Result<Redeemed, Problem> {
    let unknown = || field("promotion_code", "no such promotion code");
    if !discount::valid_code(typed.trim()) {
        return Err(unknown());
    }
    let code = store::find_by_code(conn, typed).await?.ok_or_else(unknown)?;
    let off = code.off();
    let has_bought_before =
        if code.code.first_purchase_only { store::has_bought_before(conn, buyer).await? } else { false };
    let scope = promotion::Scope {
        course_ids: code.code.course_ids.as_deref(),
        categories: code.code.categories.as_deref(),
        funder: code.code.instructor_id,
    };
    let in_scope = scope.covers(course.id, &course.category, course.instructor_id);
    discount::eligible(&discount::Eligibility {
        now: state.clock.now(),
        active: code.code.active,
        expires_at: &[code.code.expires_at],
        in_scope,
        off: &off,
        currency: price.currency,
        first_purchase_only: code.code.first_purchase_only,
        has_bought_before,
    })
    .map_err(|r| field("promotion_code", promotion::refusal(r)))?;
    let priced = discount::price(price, &off).ok_or_else(|| field("promotion_code", "no amount in this currency"))?;
    if !discount::take_redemption(conn, store::COUNTER, code.code.id).await? {
        return Err(Problem::conflict("redemption_limit_reached", "this promotion code has been used up"));
    }
    Ok(Redeemed { code, priced })
}

/// A code as its creator sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CoursePromotionCodeView)]
pub struct PromotionCodeView {
    pub id: Uuid,
    pub code: String,
    /// `platform` (an admin's code) or `instructor` (funded from the instructor's share).
    pub funded_by: String,
    pub instructor_id: Option<Uuid>,
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub percent_off: Option<Decimal>,
    pub amount_off: Vec<Money>,
    pub course_ids: Option<Vec<Uuid>>,
    pub categories: Option<Vec<String>>,
    pub max_redemptions: Option<i32>,
    /// Purchases holding it now (a closed unpaid purchase gives its redemption back).
    pub redeemed: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub first_purchase_only: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl PromotionCodeView {
    pub fn new(c: &FullCode) -> Result<Self, Problem> {
        let amount_off = c
            .amounts
            .iter()
            .map(|(code, a)| Ok(Money::round(*a, code.parse::<Currency>().map_err(Problem::internal)?)))
            .collect::<Result<Vec<_>, Problem>>()?;
        let p = &c.code;
        Ok(Self {
            id: p.id,
            code: p.code.clone(),
            funded_by: p.funded_by.clone(),
            instructor_id: p.instructor_id,
            percent_off: p.percent_off.map(|x| x.normalize()),
            amount_off,
            course_ids: p.course_ids.clone(),
            categories: p.categories.clone(),
            max_redemptions: p.max_redemptions,
            redeemed: p.redeemed,
            expires_at: p.expires_at,
            first_purchase_only: p.first_purchase_only,
            active: p.active,
            created_at: p.created_at,
        })
    }
}
