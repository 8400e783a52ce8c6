//! `GET /api/enterprise/licenses/{id}/usage` (admin, the organisation's org admin).

use super::licenses::visible;
use super::PROBLEM;
use crate::domain::usage::{self, fill_series, DayUsage};
use crate::store::usage as store;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use platform::auth::Principal;
use platform::http::Query;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Days of history, today included (default 30, at most 366).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = UsageDay)]
pub struct DayView {
    pub day: NaiveDate,
    /// Seats in use at the day's end (today: now).
    pub seats_used: i32,
    /// The most seats in use during the day.
    pub peak: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = UsageAlert)]
pub struct AlertView {
    /// 75 or 100.
    pub threshold_percent: i16,
    pub seats: i32,
    pub seats_used: i32,
    pub reached_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LicenseUsage)]
pub struct UsageView {
    pub license_id: Uuid,
    pub organization_id: Uuid,
    pub status: String,
    pub seats: i32,
    pub seats_used: i32,
    pub seats_available: i32,
    pub peak_seats_used: i32,
    pub utilization_percent: u32,
    /// The highest threshold (75, 100) currently reached, 0 if none.
    pub alert_level: u8,
    /// One point per day, oldest first, today last.
    pub daily: Vec<DayView>,
    /// Threshold crossings, newest first.
    pub alerts: Vec<AlertView>,
}

/// A license's seat usage: daily history and threshold alerts (admins, and the organisation's org admins).
#[utoipa::path(get, path = "/api/enterprise/licenses/{id}/usage", tag = "licensing", operation_id = "getLicenseUsage",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "License id"), UsageQuery),
    responses((status = 200, body = UsageView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: a member of the organisation without the org admin role"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`days`, query)")))]
pub async fn usage(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    q: Query<UsageQuery>,
) -> Result<HttpResponse, Problem> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(Problem::field("days", "must be between 1 and 366"));
    }
    let license = visible(&state, &principal, id.into_inner()).await?;
    let today = state.clock.now().date_naive();
    let from = today - Duration::days(days - 1);
    let mut conn = state.pool.get().await?;
    let rows: Vec<DayUsage> = store::days(&mut conn, license.id, from, today)
        .await?
        .into_iter()
        .map(|r| DayUsage { day: r.day, seats_used: r.seats_used, peak: r.peak })
        .collect();
    let mut series = fill_series(&rows, from, today);
    // Today's point is live, whatever the last snapshot said.
    match series.last_mut() {
        Some(last) if last.day == today => {
            last.seats_used = license.seats_used;
            last.peak = last.peak.max(license.seats_used);
        }
        _ => series.push(DayUsage { day: today, seats_used: license.seats_used, peak: license.seats_used }),
    }
    let alerts = store::alerts(&mut conn, license.id).await?;
    Ok(HttpResponse::Ok().json(UsageView {
        license_id: license.id,
        organization_id: license.organization_id,
        status: license.status.clone(),
        seats: license.seats,
        seats_used: license.seats_used,
        seats_available: (license.seats - license.seats_used).max(0),
        peak_seats_used: license.peak_seats_used,
        utilization_percent: usage::percent(license.seats_used, license.seats),
        alert_level: usage::level(license.seats_used, license.seats),
        daily: series.into_iter().map(|d| DayView { day: d.day, seats_used: d.seats_used, peak: d.peak }).collect(),
        alerts: alerts
            .into_iter()
            .map(|a| AlertView {
                threshold_percent: a.threshold,
                seats: a.seats,
                seats_used: a.seats_used,
                reached_at: a.reached_at,
            })
            .collect(),
    }))
}
