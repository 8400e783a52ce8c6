//! The instructor's side: their courses, earnings and payouts; admins mark payouts paid.

use super::views::{CourseView, EarningView, PayoutView};
use crate::domain::earnings::{may_pay_out, STATUSES};
use crate::error::MarketError;
use crate::store::{courses, earnings, payouts, Keyset};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use platform::audit::{self, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::{Json, Query};
use platform::idempotency::{self, IdempotencyKey};
use platform::money::{Currency, Money};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

fn instructor(principal: &Principal) -> Result<Uuid, Problem> {
    principal.require_any(&[Role::Instructor])?;
    principal.user_id()
}

/// The caller's courses, drafts included, newest first.
#[utoipa::path(get, path = "/api/instructors/me/courses", tag = "marketplace", operation_id = "listInstructorCourses",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of the instructor's courses, newest first", body = Page<CourseView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an instructor"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`limit`, `cursor`)")))]
pub async fn courses(
    state: web::Data<State>,
    principal: Principal,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let me = instructor(&principal)?;
    let mut conn = state.pool.get().await?;
    let rows = courses::by_instructor(&mut conn, me, q.cursor()?, q.limit()).await?;
    let page = Page::from_rows(rows, q.limit(), |c| Keyset { at: c.created_at, id: c.id });
    let data = CourseView::many(&mut conn, &page.data.iter().collect::<Vec<_>>()).await?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// The instructor's earnings in one currency, by status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = EarningsTotals)]
pub struct Totals {
    #[schema(example = "USD")]
    pub currency: String,
    /// One amount per status (`pending`, `available`, `in_payout`, `paid`); `available` may be
    /// negative after a refund of earnings already paid out.
    #[schema(value_type = BTreeMap<String, Money>)]
    pub by_status: BTreeMap<&'static str, Money>,
}

/// Totals per currency and a page of earnings lines, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EarningsView {
    pub totals: Vec<Totals>,
    pub data: Vec<EarningView>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The instructor's earnings: totals per currency and status, and the ledger lines page by page.
#[utoipa::path(get, path = "/api/instructors/me/earnings", tag = "marketplace", operation_id = "getInstructorEarnings",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = EarningsView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an instructor"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`limit`); invalid_cursor (`cursor`)")))]
pub async fn earnings(
    state: web::Data<State>,
    principal: Principal,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let me = instructor(&principal)?;
    let mut conn = state.pool.get().await?;
    let mut totals: BTreeMap<String, BTreeMap<&'static str, Money>> = BTreeMap::new();
    for (status, currency, amount) in earnings::totals(&mut conn, me).await? {
        let code = currency.trim().to_string();
        let zero = super::views::money(Decimal::ZERO, &code)?;
        let entry = totals.entry(code.clone()).or_insert_with(|| STATUSES.iter().map(|s| (*s, zero)).collect());
        if let Some(slot) = STATUSES.iter().find(|s| **s == status) {
            entry.insert(slot, super::views::money(amount, &code)?);
        }
    }
    let rows = earnings::page(&mut conn, me, q.cursor()?, q.limit()).await?;
    let page = Page::from_rows(rows, q.limit(), |l| earnings::Cursor { at: l.created_at, id: l.id });
    let data = page.data.iter().map(EarningView::new).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(EarningsView {
        totals: totals.into_iter().map(|(currency, by_status)| Totals { currency, by_status }).collect(),
        data,
        next_cursor: page.next_cursor,
    }))
}

/// The instructor's payouts, newest first.
#[utoipa::path(get, path = "/api/instructors/me/payouts", tag = "marketplace", operation_id = "listInstructorPayouts",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of the instructor's payouts, newest first", body = Page<PayoutView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an instructor"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`limit`, `cursor`)")))]
pub async fn payouts(
    state: web::Data<State>,
    principal: Principal,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let me = instructor(&principal)?;
    let mut conn = state.pool.get().await?;
    let rows = payouts::for_instructor(&mut conn, me, q.cursor()?, q.limit()).await?;
    let page = Page::from_rows(rows, q.limit(), |p| Keyset { at: p.requested_at, id: p.id });
    let data = page.data.iter().map(PayoutView::new).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// Which balance to pay out (USD when omitted).
    #[serde(default)]
    pub currency: Option<Currency>,
}

/// Pay out the whole available balance in one currency, negative adjustments netted off.
#[utoipa::path(post, path = "/api/instructors/me/payouts", tag = "marketplace", operation_id = "requestPayout",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; same key + same body replays the first response")),
    request_body = PayoutRequest,
    responses((status = 201, description = "The payout, `requested` until an admin marks it paid", body = PayoutView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "idempotency_key_required, bad_request (body not valid JSON)"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an instructor"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "idempotency_in_progress"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "payout_below_minimum (the net available balance is below the minimum payout), validation_failed (unknown `currency` or field, malformed Idempotency-Key), idempotency_key_reused")))]
pub async fn request_payout(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    key: IdempotencyKey,
    body: Json<PayoutRequest>,
) -> Result<HttpResponse, Problem> {
    let me = instructor(&principal)?;
    let req = body.into_inner();
    let currency = req.currency.unwrap_or(Currency::USD);
    let scope = format!("{me}:POST /api/instructors/me/payouts");
    let st = state.clone();
    idempotency::execute(&state.pool, &scope, &key, &req, move |conn| {
        Box::pin(async move {
            let lines = earnings::lock_available(conn, me, currency.code()).await?;
            let balance: Decimal = lines.iter().map(|(_, a)| *a).sum();
            let minimum = st.config.min_payout;
            if !may_pay_out(balance, minimum) {
                return Err(MarketError::BelowMinimumPayout {
                    balance: Money::round(balance, currency).to_string(),
                    minimum: Money::round(minimum, currency).to_string(),
                }
                .into());
            }
            let payout = payouts::insert(conn, Uuid::now_v7(), me, balance, currency.code(), st.clock.now()).await?;
            let ids: Vec<Uuid> = lines.iter().map(|(id, _)| *id).collect();
            earnings::attach_to_payout(conn, &ids, payout.id).await?;
            let changes = serde_json::json!({
                "amount": balance.to_string(),
                "currency": currency.code(),
                "earnings": ids.len(),
            });
            let action = audit::Action::new("payout.request", format!("payout:{}", payout.id), changes);
            audit::record(conn, &ctx, payout.requested_at, action).await?;
            Ok((StatusCode::CREATED, PayoutView::new(&payout)?))
        })
    })
    .await
}

/// Admin: the money reached the instructor. Marking a paid payout again changes nothing.
#[utoipa::path(post, path = "/api/marketplace/payouts/{id}/mark-paid", tag = "marketplace", operation_id = "markPayoutPaid",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payout id")),
    responses((status = 200, body = PayoutView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an admin"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such payout")))]
pub async fn mark_paid(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let id = id.into_inner();
    let now = state.clock.now();
    let payout = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let payout = payouts::lock(conn, id).await?.ok_or(MarketError::PayoutNotFound)?;
            if payout.status == payouts::PAID {
                return Ok::<_, Problem>(payout);
            }
            let paid = payouts::mark_paid(conn, id, &principal.sub, now).await?;
            earnings::mark_paid(conn, id).await?;
            let changes = serde_json::json!({
                "before": { "status": payout.status },
                "after": { "status": paid.status },
                "amount": paid.amount.to_string(),
                "currency": paid.currency.trim(),
            });
            audit::record(conn, &ctx, now, audit::Action::new("payout.mark_paid", format!("payout:{id}"), changes))
                .await?;
            Ok(paid)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(PayoutView::new(&payout)?))
}
