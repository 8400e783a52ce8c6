//! Rewards' reports, for admins.

use super::PROBLEM;
use crate::reports::{self, Liability, TokenFlowRow, VoucherRow};
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::http::Query;
use platform::reports::{self as report, Format, Report, ReportQuery};
use platform::Problem;

/// Tokens earned, awarded, redeemed, clawed back and expired per interval.
#[utoipa::path(get, path = "/api/admin/reports/rewards", tag = "rewards", operation_id = "rewardsReport",
    security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "One row per interval (as CSV with `Accept: text/csv`)",
            content((Report<TokenFlowRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`from`, `to`, `interval`)")))]
pub async fn tokens(
    state: web::Data<State>,
    principal: Principal,
    q: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    report::admin_range(&principal, &state.pool, &q, format, async |conn, series| {
        reports::token_flows(conn, series, now).await
    })
    .await
}

/// Vouchers issued, used and expired per interval and currency.
#[utoipa::path(get, path = "/api/admin/reports/rewards/vouchers", tag = "rewards", operation_id = "rewardsVouchersReport",
    security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "One row per interval and currency with vouchers in the range (as CSV with `Accept: text/csv`)",
            content((Report<VoucherRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`from`, `to`, `interval`)")))]
pub async fn vouchers(
    state: web::Data<State>,
    principal: Principal,
    q: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    report::admin_range(&principal, &state.pool, &q, format, async |conn, series| {
        reports::vouchers(conn, series, now).await
    })
    .await
}

/// Outstanding spendable tokens now and their liability at catalogue value, per currency.
#[utoipa::path(get, path = "/api/admin/reports/rewards/liability", tag = "rewards", operation_id = "rewardsLiabilityReport",
    security(("bearer" = [])),
    responses((status = 200, description = "Totals, and one row per currency the catalogue prices items in (as CSV with `Accept: text/csv`)",
            content((Liability = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not an admin")))]
pub async fn liability(state: web::Data<State>, principal: Principal, format: Format) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    report::admin(&principal, &state.pool, format, async |conn| reports::liability(conn, now).await).await
}
