//! Admin reports on subscriptions.

use super::PROBLEM;
use crate::reports::{self as report, Row};
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::http::Query;
use platform::reports::{self, Format, Report, ReportQuery};
use platform::Problem;

/// MRR and its movements, churn, ARPU and subscribers per interval and currency.
///
/// Read from the MRR history, so a past interval answers the same numbers later. JSON by default;
/// `Accept: text/csv` answers the same rows as CSV. Definitions: docs/api.md, "Subscriptions report".
#[utoipa::path(get, path = "/api/admin/reports/subscriptions", tag = "subscriptions", operation_id = "subscriptions_report",
    security(("bearer" = [])), params(ReportQuery),
    responses(
        (status = 200, description = "One row per interval and currency",
            content((Report<Row> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = PROBLEM,
            description = "validation_failed: a bad `from`/`to`, `to` not after `from`, or more than 366 intervals")))]
pub async fn subscriptions(
    state: web::Data<State>,
    principal: Principal,
    query: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    reports::admin_range(&principal, &state.pool, &query, format, async |conn, series| {
        report::subscriptions(conn, series, now).await
    })
    .await
}
