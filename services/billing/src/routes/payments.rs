//! Reading payments, history and receipts. Owners and admins only: another user's payment is a
//! 404, so ids leak nothing.

use super::views::{money, PaymentView};
use crate::domain::receipt::{CardSummary, LineItem, Merchant, Receipt, ReceiptRefund};
use crate::error::BillingError;
use crate::store::{history, payments, refunds};
use crate::State;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::AuditContext;
use platform::auth::Principal;
use platform::http::Query;
use platform::money::Money;
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The payment if the caller may see it: its payer, an admin or a service.
async fn visible_payment(state: &State, principal: &Principal, id: Uuid) -> Result<payments::Payment, Problem> {
    let mut conn = state.pool.get().await?;
    let payment = payments::find(&mut conn, id).await?.ok_or(BillingError::PaymentNotFound)?;
    let allowed = principal.is_admin()
        || principal.require_service().is_ok()
        || principal.user_id().ok() == Some(payment.user_id);
    if !allowed {
        return Err(BillingError::PaymentNotFound.into());
    }
    Ok(payment)
}

/// A payment of the caller's (admins: anyone's).
#[utoipa::path(get, path = "/api/payments/{id}", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses((status = 200, body = PaymentView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such payment of yours")))]
pub async fn get(state: web::Data<State>, principal: Principal, id: web::Path<Uuid>) -> Result<HttpResponse, Problem> {
    let payment = visible_payment(&state, &principal, id.into_inner()).await?;
    let show_secret = principal.user_id().ok() == Some(payment.user_id) || principal.require_service().is_ok();
    Ok(HttpResponse::Ok().json(PaymentView::new(&payment, show_secret)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Admins only: whose history.
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryLineView {
    pub id: Uuid,
    pub kind: String,
    pub payment_id: Uuid,
    pub refund_id: Option<Uuid>,
    pub amount: Money,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
}

/// The caller's charges and refunds, newest first.
#[utoipa::path(get, path = "/api/payments/history", tag = "billing", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Page<HistoryLineView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "user_id given by a non-admin"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn history(
    state: web::Data<State>,
    principal: Principal,
    http: HttpRequest,
    q: Query<HistoryQuery>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let user = match q.user_id {
        Some(other) if principal.is_admin() => other,
        Some(_) => return Err(Problem::forbidden().with_detail("only admins may read another user's history")),
        None => principal.user_id()?,
    };
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let mut conn = state.pool.get().await?;
    if Some(user) != principal.user_id().ok() {
        let ctx = AuditContext::from_request(&http, &principal);
        platform::audit::record_read(&mut conn, &ctx, Utc::now(), "billing_history", format!("user:{user}")).await?;
    }
    let rows = history::page(&mut conn, user, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |l| history::Cursor { at: l.occurred_at, id: l.id });
    let data = page
        .data
        .iter()
        .map(|l| {
            Ok(HistoryLineView {
                id: l.id,
                kind: l.kind.clone(),
                payment_id: l.payment_id,
                refund_id: l.refund_id,
                amount: money(l.amount, &l.currency)?,
                description: l.description.clone(),
                occurred_at: l.occurred_at,
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// The payer's lines of `payment` (none: a payment of one item).
fn receipt_lines(payment: &payments::Payment) -> Result<Vec<crate::domain::invoice::InvoiceLine>, Problem> {
    let lines: Vec<events::catalog::billing::ChargeLine> =
        serde_json::from_value(payment.lines.clone()).map_err(Problem::internal)?;
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let amount = money(payment.amount, &payment.currency)?;
    Ok(crate::domain::invoice::lines_of(&lines, &payment.description, &payment.purpose, amount))
}

/// The receipt of a succeeded payment, as JSON or (with `Accept: text/html`) as an HTML page.
#[utoipa::path(get, path = "/api/payments/{id}/receipt", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses((status = 200, body = Receipt, content_type = "application/json"),
        (status = 200, body = String, content_type = "text/html"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found or receipt_not_available")))]
pub async fn receipt(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let payment = visible_payment(&state, &principal, id.into_inner()).await?;
    let (Some(number), Some(paid_at)) = (payment.receipt_number.clone(), payment.succeeded_at) else {
        return Err(BillingError::ReceiptNotAvailable.into());
    };
    let mut conn = state.pool.get().await?;
    let refund_rows = refunds::for_payment(&mut conn, payment.id).await?;
    let refunds = refund_rows
        .iter()
        .filter(|r| r.status != "failed" && r.status != "canceled")
        .map(|r| {
            Ok(ReceiptRefund {
                amount: money(r.amount, &r.currency)?,
                reason: r.reason.clone(),
                status: r.status.clone(),
                created_at: r.created_at,
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    let total: rust_decimal::Decimal = refunds.iter().map(|r| r.amount.amount).sum();
    let receipt = Receipt {
        receipt_number: number,
        payment_id: payment.id,
        merchant: Merchant { name: state.config.merchant_name.clone(), address: state.config.merchant_address.clone() },
        buyer_id: payment.user_id,
        line_item: LineItem {
            kind: payment.purpose.clone(),
            description: payment.description.clone(),
            reference_id: payment.reference_id.clone(),
        },
        lines: receipt_lines(&payment)?,
        amount: money(payment.amount, &payment.currency)?,
        payment_method: match (payment.card_brand, payment.card_last4) {
            (Some(brand), Some(last4)) => Some(CardSummary { brand, last4 }),
            _ => None,
        },
        paid_at,
        refunds,
        total_refunded: money(total, &payment.currency)?,
    };
    let wants_html = req.headers().get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html {
        Ok(platform::html::response(receipt.to_html()))
    } else {
        Ok(HttpResponse::Ok().json(receipt))
    }
}
