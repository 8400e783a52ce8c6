//! Licensing's reports, for admins.

use super::PROBLEM;
use crate::reports::{self, LicenseStatusRow, RenewalRow, TicketRow, UtilizationRow};
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::http::Query;
use platform::reports::{self as report, Format, Report, ReportQuery, Snapshot};
use platform::Problem;
use serde::Deserialize;

const ORGS_DEFAULT: i64 = 100;
const ORGS_MAX: i64 = 1000;

/// SLA tickets opened, breached and the breach rate per interval and priority.
#[utoipa::path(get, path = "/api/admin/reports/licensing", tag = "licensing", operation_id = "licensingReport",
    security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "One row per interval and priority (as CSV with `Accept: text/csv`)",
            content((Report<TicketRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`from`, `to`, `interval`)")))]
pub async fn tickets(
    state: web::Data<State>,
    principal: Principal,
    q: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    report::admin_range(&principal, &state.pool, &q, format, async |conn, series| reports::tickets(conn, series).await)
        .await
}

/// Licenses by status now, with seats sold and used.
#[utoipa::path(get, path = "/api/admin/reports/licensing/licenses", tag = "licensing", operation_id = "licensingLicensesReport",
    security(("bearer" = [])),
    responses((status = 200, description = "One row per status (as CSV with `Accept: text/csv`)",
            content((Snapshot<LicenseStatusRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin")))]
pub async fn licenses(state: web::Data<State>, principal: Principal, format: Format) -> Result<HttpResponse, Problem> {
    report::admin_snapshot(&principal, &state.pool, format, state.clock.now(), async |conn| {
        reports::licenses(conn).await
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UtilizationQuery {
    /// Organisations, 1-1000 (default 100), least used first.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Seat utilization per organisation on its active licenses, least used first.
#[utoipa::path(get, path = "/api/admin/reports/licensing/utilization", tag = "licensing", operation_id = "licensingUtilizationReport",
    security(("bearer" = [])), params(UtilizationQuery),
    responses((status = 200, description = "One row per organisation with an active license (as CSV with `Accept: text/csv`)",
            content((Snapshot<UtilizationRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`limit`)")))]
pub async fn utilization(
    state: web::Data<State>,
    principal: Principal,
    q: Query<UtilizationQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    report::require_admin(&principal)?;
    let limit = q.limit.unwrap_or(ORGS_DEFAULT);
    if !(1..=ORGS_MAX).contains(&limit) {
        return Err(Problem::field("limit", format!("must be between 1 and {ORGS_MAX}")));
    }
    let now = state.clock.now();
    report::serve(&state.pool, format, async |conn| {
        Ok(Snapshot { as_of: now, data: reports::utilization(conn, limit).await? })
    })
    .await
}

/// The renewal pipeline: active or suspended licenses ending within 30, 60 and 90 days.
#[utoipa::path(get, path = "/api/admin/reports/licensing/renewals", tag = "licensing", operation_id = "licensingRenewalsReport",
    security(("bearer" = [])),
    responses((status = 200, description = "One row per horizon (30, 60, 90 days; each includes the shorter ones) (as CSV with `Accept: text/csv`)",
            content((Snapshot<RenewalRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin")))]
pub async fn renewals(state: web::Data<State>, principal: Principal, format: Format) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    report::admin_snapshot(&principal, &state.pool, format, now, async |conn| reports::renewals(conn, now).await).await
}
