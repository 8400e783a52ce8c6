//! Marketplace's reports: admins see the whole marketplace, an instructor only their own sales.

use crate::reports::{self, InstructorSalesRow, PayoutRow, SalesRow, TopCourseRow};
use crate::store::sales::Rank;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::http::Query;
use platform::reports::{self as report, Envelope, Format, Report, ReportQuery, Snapshot};
use platform::Problem;
use serde::{Deserialize, Serialize};

const TOP_DEFAULT: i64 = 10;
const TOP_MAX: i64 = 100;

/// GMV, instructor and platform revenue per interval and currency.
#[utoipa::path(get, path = "/api/admin/reports/marketplace", tag = "marketplace", operation_id = "marketplaceReport",
    security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "One row per interval and currency sold in the range (zeros where nothing sold) (as CSV with `Accept: text/csv`)",
            content((Report<SalesRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an admin"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`from`, `to`, `interval`)")))]
pub async fn sales(
    state: web::Data<State>,
    principal: Principal,
    q: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    report::admin_range(&principal, &state.pool, &q, format, async |conn, series| {
        reports::sales(conn, series, now).await
    })
    .await
}

/// What instructors are owed (pending, available), what is in payout and what was paid, now.
#[utoipa::path(get, path = "/api/admin/reports/marketplace/payouts", tag = "marketplace", operation_id = "marketplacePayoutsReport",
    security(("bearer" = [])),
    responses((status = 200, description = "One row per currency (as CSV with `Accept: text/csv`)",
            content((Snapshot<PayoutRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an admin")))]
pub async fn payouts(state: web::Data<State>, principal: Principal, format: Format) -> Result<HttpResponse, Problem> {
    report::admin_snapshot(&principal, &state.pool, format, state.clock.now(), async |conn| {
        reports::payouts(conn).await
    })
    .await
}

/// How the courses are ranked.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TopBy {
    /// Net revenue (GMV) in the range.
    #[default]
    Revenue,
    /// Number of sales in the range.
    Sales,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TopQuery {
    /// Start of the range, inclusive: an RFC 3339 instant or a date (midnight UTC).
    #[serde(deserialize_with = "platform::reports::instant")]
    #[param(value_type = chrono::DateTime<chrono::Utc>, example = "2026-01-01T00:00:00Z")]
    pub from: DateTime<Utc>,
    /// End of the range, exclusive.
    #[serde(deserialize_with = "platform::reports::instant")]
    #[param(value_type = chrono::DateTime<chrono::Utc>, example = "2027-01-01T00:00:00Z")]
    pub to: DateTime<Utc>,
    /// `revenue` (default) or `sales`.
    #[serde(default)]
    #[param(inline)]
    pub by: TopBy,
    /// Courses per currency, 1-100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The ranking's answer: its parameters and the courses, best first within each currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TopCourses {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: TopBy,
    pub data: Vec<TopCourseRow>,
}

impl Envelope for TopCourses {
    type Row = TopCourseRow;
    fn rows(&self) -> &[TopCourseRow] {
        &self.data
    }
}

/// The best courses of each currency over a range, by revenue or by number of sales.
#[utoipa::path(get, path = "/api/admin/reports/marketplace/top-courses", tag = "marketplace", operation_id = "topCoursesReport",
    security(("bearer" = [])), params(TopQuery),
    responses((status = 200, description = "Up to `limit` courses per currency, best first (as CSV with `Accept: text/csv`)",
            content((TopCourses = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an admin"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`from`, `to`, `by`, `limit`)")))]
pub async fn top_courses(
    state: web::Data<State>,
    principal: Principal,
    q: Query<TopQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    report::require_admin(&principal)?;
    if q.to <= q.from {
        return Err(Problem::field("to", "must be after `from`"));
    }
    let limit = q.limit.unwrap_or(TOP_DEFAULT);
    if !(1..=TOP_MAX).contains(&limit) {
        return Err(Problem::field("limit", format!("must be between 1 and {TOP_MAX}")));
    }
    let rank = match q.by {
        TopBy::Revenue => Rank::Revenue,
        TopBy::Sales => Rank::Sales,
    };
    let (from, to, by, now) = (q.from, q.to, q.by, state.clock.now());
    report::serve(&state.pool, format, async |conn| {
        Ok(TopCourses { from, to, by, data: reports::top_courses(conn, rank, from, to, now, limit).await? })
    })
    .await
}

/// The calling instructor's own sales per interval and course; nobody else's, whatever is asked.
#[utoipa::path(get, path = "/api/instructors/me/reports/sales", tag = "marketplace", operation_id = "instructorSalesReport",
    security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "One row per interval, course and currency with sales or refunds (as CSV with `Accept: text/csv`)",
            content((Report<InstructorSalesRow> = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an instructor"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`from`, `to`, `interval`)")))]
pub async fn instructor_sales(
    state: web::Data<State>,
    principal: Principal,
    q: Query<ReportQuery>,
    format: Format,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Instructor])?;
    let me = principal.user_id()?;
    report::range(&state.pool, &q, format, async |conn, series| reports::instructor_sales(conn, me, series).await).await
}
