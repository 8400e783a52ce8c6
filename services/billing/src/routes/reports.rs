//! Admin reports on payments.

use crate::reports::{self as report, Row};
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::http::Query;
use platform::reports::{self, Format, Report, ReportQuery};
use platform::Problem;

/// Payment attempts, success rates, refunds and revenue by purpose per interval and currency.
///
/// Read from the payment outcome history, so a past interval answers the same numbers later. JSON
/// by default; `Accept: text/csv` answers the same rows as CSV. Definitions: docs/api.md,
/// "Payments report".
#[utoipa::path(get, path = "/api/admin/reports/payments", tag = "billing", operation_id = "payments_report",
    security(("bearer" = [])), params(ReportQuery),
    responses(
        (status = 200, description = "One row per interval and currency",
            content((Report<Row> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "validation_failed: a bad `from`/`to`, `to` not after `from`, or more than 366 intervals")))]
pub async fn payments(
    state: web::Data<State>,
    principal: Principal,
    query: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    reports::admin_range(&principal, &state.pool, &query, format, async |conn, series| {
        report::payments(conn, series, now).await
    })
    .await
}

/// Tax invoiced, credited back and collected per interval, currency and the customer's billing
/// country (from invoices and credit notes). JSON, or CSV with `Accept: text/csv`. Definitions:
/// docs/api.md, "Invoices and tax".
#[utoipa::path(get, path = "/api/admin/reports/payments/tax", tag = "billing", operation_id = "tax_report",
    security(("bearer" = [])), params(ReportQuery),
    responses(
        (status = 200, description = "One row per interval, currency and country with documents",
            content((Report<report::TaxRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed")))]
pub async fn tax(
    state: web::Data<State>,
    principal: Principal,
    query: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    reports::admin_range(&principal, &state.pool, &query, format, async |conn, series| report::tax(conn, series).await)
        .await
}
