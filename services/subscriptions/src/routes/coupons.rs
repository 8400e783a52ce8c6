//! Admin: coupons and their promotion codes. Every write is audited in its transaction.

use super::PROBLEM;
use crate::coupons::{self, CouponTerms};
use crate::error::SubscriptionError;
use crate::store::coupons::{self as store, FullCoupon, PromotionCode};
use crate::store::tiers;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::audit::{self, Action, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::{Json, Query};
use platform::idempotency::{self, Audited, IdempotencyKey};
use platform::money::{Currency, Money};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponRequest {
    /// Shown to admins and on the discount line's coupon (1-100 characters).
    #[schema(example = "Spring sale")]
    pub name: String,
    /// A percentage, `0 < p <= 100` (decimal string). Give this or `amount_off`.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "50")]
    pub percent_off: Option<Decimal>,
    /// An amount off per currency: a charge in a currency without one gets no discount (and the
    /// code is refused for a subscription billed in it).
    #[serde(default)]
    pub amount_off: Vec<Money>,
    /// `once` (the next charge), `repeating` (charges for periods starting within
    /// `duration_in_months` of the redemption) or `forever`.
    #[schema(example = "repeating")]
    pub duration: String,
    #[serde(default)]
    #[schema(example = 3)]
    pub duration_in_months: Option<i32>,
    /// Tier codes the coupon applies to; absent or null for every paid tier.
    #[serde(default)]
    pub tiers: Option<Vec<String>>,
    /// Redemptions over all its promotion codes; absent for no limit.
    #[serde(default)]
    pub max_redemptions: Option<i32>,
    /// No redemption from then on (discounts already held keep applying).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Refused to a user who ever paid for a subscription.
    #[serde(default)]
    pub first_purchase_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionCodeRequest {
    /// What customers type; case-insensitive, unique, 3-40 letters, digits, `-` or `_`.
    #[schema(example = "SPRING")]
    pub code: String,
    /// This code's own limit, within the coupon's.
    #[serde(default)]
    pub max_redemptions: Option<i32>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PromotionCodeView {
    id: Uuid,
    code: String,
    max_redemptions: Option<i32>,
    redeemed: i32,
    expires_at: Option<DateTime<Utc>>,
    active: bool,
    created_at: DateTime<Utc>,
}

impl From<&PromotionCode> for PromotionCodeView {
    fn from(p: &PromotionCode) -> Self {
        Self {
            id: p.id,
            code: p.code.clone(),
            max_redemptions: p.max_redemptions,
            redeemed: p.redeemed,
            expires_at: p.expires_at,
            active: p.active,
            created_at: p.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CouponView {
    id: Uuid,
    name: String,
    #[schema(value_type = Option<String>, example = "50")]
    percent_off: Option<String>,
    amount_off: Vec<Money>,
    duration: String,
    duration_in_months: Option<i32>,
    tiers: Option<Vec<String>>,
    max_redemptions: Option<i32>,
    /// Redemptions so far, over all its codes.
    redeemed: i32,
    expires_at: Option<DateTime<Utc>>,
    first_purchase_only: bool,
    active: bool,
    created_at: DateTime<Utc>,
    promotion_codes: Vec<PromotionCodeView>,
}

/// `{currency: amount}` as money values, currency order.
pub fn amounts_view(amounts: &BTreeMap<String, Decimal>) -> Vec<Money> {
    amounts.iter().filter_map(|(c, a)| Some(Money::round(*a, c.parse::<Currency>().ok()?))).collect()
}

fn view(c: &FullCoupon, codes: &[PromotionCode]) -> CouponView {
    let k = &c.coupon;
    CouponView {
        id: k.id,
        name: k.name.clone(),
        percent_off: k.percent_off.map(|p| p.normalize().to_string()),
        amount_off: amounts_view(&c.amounts),
        duration: k.duration.clone(),
        duration_in_months: k.duration_in_months,
        tiers: k.tiers.clone(),
        max_redemptions: k.max_redemptions,
        redeemed: k.redeemed,
        expires_at: k.expires_at,
        first_purchase_only: k.first_purchase_only,
        active: k.active,
        created_at: k.created_at,
        promotion_codes: codes.iter().map(PromotionCodeView::from).collect(),
    }
}

async fn load(conn: &mut AsyncPgConnection, id: Uuid) -> Result<CouponView, SubscriptionError> {
    let coupon = store::find_coupon(conn, id).await?.ok_or_else(|| Problem::not_found("coupon"))?;
    let codes = store::codes_of(conn, id).await?;
    Ok(view(&coupon, &codes))
}

fn terms(req: CouponRequest) -> Result<CouponTerms, Problem> {
    let mut amount_off = BTreeMap::new();
    for m in req.amount_off {
        if amount_off.insert(m.currency.code().to_string(), m.amount).is_some() {
            return Err(Problem::field("amount_off", format!("{} given twice", m.currency)));
        }
    }
    Ok(CouponTerms {
        name: req.name,
        percent_off: req.percent_off,
        amount_off,
        duration: req.duration,
        duration_in_months: req.duration_in_months,
        tiers: req.tiers,
        max_redemptions: req.max_redemptions,
        expires_at: req.expires_at,
        first_purchase_only: req.first_purchase_only,
    })
}

/// Create a coupon (admin).
#[utoipa::path(post, path = "/api/admin/coupons", tag = "subscriptions", operation_id = "createCoupon",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = CouponRequest,
    responses((status = 201, body = CouponView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed, idempotency_key_reused")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    body: Json<CouponRequest>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let req = body.into_inner();
    let scope = format!("{}:POST /api/admin/coupons", principal.sub);
    let audited = Audited { ctx: audit_ctx, at: state.clock.now() };
    let now = audited.at;
    idempotency::create_audited(&state.pool, &scope, &key, &req.clone(), audited, move |conn| {
        Box::pin(async move {
            let known: Vec<String> =
                tiers::all(conn).await?.into_iter().filter(|t| !t.price.is_zero()).map(|t| t.code).collect();
            let (coupon, amounts) = coupons::new_coupon(terms(req.clone())?, &known, now)?;
            store::insert_coupon(conn, &coupon, &amounts).await?;
            let changes = serde_json::to_value(&req).map_err(Problem::internal)?;
            let action = Action::new("coupon.create", format!("coupon:{}", coupon.id), changes);
            Ok((load(conn, coupon.id).await?, action))
        })
    })
    .await
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

/// Coupons, newest first, with their promotion codes (admin).
#[utoipa::path(get, path = "/api/admin/coupons", tag = "subscriptions", operation_id = "listCoupons",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<CouponView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "invalid_cursor")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let page = q.into_inner();
    let after = page.cursor::<Cursor>()?.map(|c| (c.at, c.id));
    let mut conn = state.pool.get().await?;
    let rows = store::list_coupons(&mut conn, after, page.limit() + 1).await?;
    let page = Page::from_rows(rows, page.limit(), |c| Cursor { at: c.coupon.created_at, id: c.coupon.id });
    let mut data = Vec::with_capacity(page.data.len());
    for c in &page.data {
        let codes = store::codes_of(&mut conn, c.coupon.id).await.map_err(SubscriptionError::from)?;
        data.push(view(c, &codes));
    }
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// Add a customer-facing promotion code to a coupon (admin).
#[utoipa::path(post, path = "/api/admin/coupons/{id}/promotion-codes", tag = "subscriptions", operation_id = "createPromotionCode",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The coupon"),
        ("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = PromotionCodeRequest,
    responses((status = 201, body = CouponView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such coupon"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "promotion_code_exists, illegal_transition (coupon deactivated), idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed, idempotency_key_reused")))]
pub async fn create_code(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: Json<PromotionCodeRequest>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let scope = format!("{}:POST /api/admin/coupons/{id}/promotion-codes", principal.sub);
    let audited = Audited { ctx: audit_ctx, at: state.clock.now() };
    let now = audited.at;
    idempotency::create_audited(&state.pool, &scope, &key, &req.clone(), audited, move |conn| {
        Box::pin(async move {
            let coupon = store::find_coupon(conn, id).await?.ok_or_else(|| Problem::not_found("coupon"))?;
            let code = coupons::new_code(&coupon, &req.code, req.max_redemptions, req.expires_at, now)?;
            store::insert_code(conn, &code).await.map_err(SubscriptionError::from)?;
            let changes = serde_json::to_value(&req).map_err(Problem::internal)?;
            let action = Action::new("promotion_code.create", format!("promotion_code:{}", code.id), changes);
            Ok((load(conn, id).await?, action))
        })
    })
    .await
}

/// Deactivate a coupon: its codes redeem no more (discounts already held keep applying).
#[utoipa::path(post, path = "/api/admin/coupons/{id}/deactivate", tag = "subscriptions", operation_id = "deactivateCoupon",
    security(("bearer" = [])), params(("id" = Uuid, Path, description = "The coupon")),
    responses((status = 200, body = CouponView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such coupon")))]
pub async fn deactivate(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let now = state.clock.now();
    let coupon = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if store::deactivate_coupon(conn, id).await? == 0 {
                return Err(SubscriptionError::from(Problem::not_found("coupon")));
            }
            let target = format!("coupon:{id}");
            audit::record(conn, &audit_ctx, now, Action::new("coupon.deactivate", target, serde_json::json!({})))
                .await?;
            load(conn, id).await
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(coupon))
}

/// Deactivate one promotion code of a coupon.
#[utoipa::path(post, path = "/api/admin/coupons/{id}/promotion-codes/{code_id}/deactivate", tag = "subscriptions",
    operation_id = "deactivatePromotionCode", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The coupon"), ("code_id" = Uuid, Path, description = "The promotion code")),
    responses((status = 200, body = CouponView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such code on this coupon")))]
pub async fn deactivate_code(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let (id, code_id) = path.into_inner();
    let now = state.clock.now();
    let coupon = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if store::deactivate_code(conn, id, code_id).await? == 0 {
                return Err(SubscriptionError::from(Problem::not_found("promotion code")));
            }
            let target = format!("promotion_code:{code_id}");
            let action = Action::new("promotion_code.deactivate", target, serde_json::json!({ "coupon_id": id }));
            audit::record(conn, &audit_ctx, now, action).await?;
            load(conn, id).await
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(coupon))
}
