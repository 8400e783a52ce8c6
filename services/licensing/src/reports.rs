//! Licensing's reports (issue 19): licenses and seats by status, utilization per organisation,
//! the renewal pipeline (licenses ending within 30/60/90 days) and SLA tickets per interval and
//! priority. Rates are `platform::reports::rate`: at most 4 decimals, `null` over nothing.

use crate::domain::license::Status;
use crate::store::reports as store;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::reports::{rate, Bucket, Csv, CsvTable, Series};
use platform::Problem;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// The renewal pipeline's horizons, in days.
pub const EXPIRY_WINDOWS: [i64; 3] = [30, 60, 90];
/// Ticket priorities, every one reported in every interval.
pub const PRIORITIES: [&str; 4] = ["P1", "P2", "P3", "P4"];

fn bucket(series: &Series, n: i32) -> Result<Bucket, Problem> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| series.buckets().get(i).copied())
        .ok_or_else(|| Problem::internal(format!("row outside the report's buckets: {n}")))
}

fn ratio(part: i64, whole: i64) -> Option<Decimal> {
    rate(Decimal::from(part), Decimal::from(whole))
}

/// Licenses in one status now: seats sold (bought on them) and used (activated).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LicenseStatusRow {
    /// `active`, `suspended`, `revoked` or `expired`.
    pub status: String,
    pub licenses: i64,
    pub seats_sold: i64,
    pub seats_used: i64,
    /// `seats_used / seats_sold`, at most 4 decimals; null without seats.
    #[schema(value_type = Option<String>, example = "0.75")]
    #[serde(with = "rust_decimal::serde::str_option")]
    pub utilization: Option<Decimal>,
}

impl CsvTable for LicenseStatusRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&["status", "licenses", "seats_sold", "seats_used", "utilization"]);
        for r in rows {
            csv.row([
                r.status.clone().into(),
                r.licenses.into(),
                r.seats_sold.into(),
                r.seats_used.into(),
                r.utilization.into(),
            ]);
        }
        csv
    }
}

/// Every status once, zeros for a status no license is in.
pub async fn licenses(conn: &mut AsyncPgConnection) -> Result<Vec<LicenseStatusRow>, Problem> {
    let found = store::by_status(conn).await?;
    Ok(Status::ALL
        .iter()
        .map(|s| s.as_str())
        .map(|status| {
            let (licenses, seats, used) =
                found.iter().find(|f| f.status == status).map_or((0, 0, 0), |f| (f.licenses, f.seats, f.seats_used));
            LicenseStatusRow {
                status: status.to_string(),
                licenses,
                seats_sold: seats,
                seats_used: used,
                utilization: ratio(used, seats),
            }
        })
        .collect())
}

/// An organisation's seats on its active licenses.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UtilizationRow {
    pub organization_id: Uuid,
    pub name: String,
    pub active_licenses: i64,
    pub seats_sold: i64,
    pub seats_used: i64,
    #[schema(value_type = Option<String>, example = "0.42")]
    #[serde(with = "rust_decimal::serde::str_option")]
    pub utilization: Option<Decimal>,
}

impl CsvTable for UtilizationRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv =
            Csv::new(&["organization_id", "name", "active_licenses", "seats_sold", "seats_used", "utilization"]);
        for r in rows {
            csv.row([
                r.organization_id.to_string().into(),
                r.name.clone().into(),
                r.active_licenses.into(),
                r.seats_sold.into(),
                r.seats_used.into(),
                r.utilization.into(),
            ]);
        }
        csv
    }
}

pub async fn utilization(conn: &mut AsyncPgConnection, limit: i64) -> Result<Vec<UtilizationRow>, Problem> {
    Ok(store::utilization(conn, limit)
        .await?
        .into_iter()
        .map(|u| UtilizationRow {
            organization_id: u.organization_id,
            name: u.name,
            active_licenses: u.licenses,
            seats_sold: u.seats,
            seats_used: u.seats_used,
            utilization: ratio(u.seats_used, u.seats),
        })
        .collect())
}

/// Licenses (active or suspended) whose term ends within `within_days` from now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RenewalRow {
    pub within_days: i64,
    pub licenses: i64,
    pub seats: i64,
}

impl CsvTable for RenewalRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&["within_days", "licenses", "seats"]);
        for r in rows {
            csv.row([r.within_days.into(), r.licenses.into(), r.seats.into()]);
        }
        csv
    }
}

pub async fn renewals(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<Vec<RenewalRow>, Problem> {
    Ok(store::expiring(conn, now, &EXPIRY_WINDOWS)
        .await?
        .into_iter()
        .map(|e| RenewalRow { within_days: e.within_days, licenses: e.licenses, seats: e.seats })
        .collect())
}

/// Support tickets opened in one interval at one priority, and how many of those breached their
/// SLA (first response or resolution late), whenever the breach happened.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketRow {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// `P1` (most urgent) to `P4`.
    pub priority: String,
    pub opened: i64,
    /// Tickets with either target breached (counted once).
    pub breached: i64,
    pub first_response_breached: i64,
    pub resolution_breached: i64,
    /// `breached / opened`, at most 4 decimals; null when none were opened.
    #[schema(value_type = Option<String>, example = "0.05")]
    #[serde(with = "rust_decimal::serde::str_option")]
    pub breach_rate: Option<Decimal>,
}

impl CsvTable for TicketRow {
    fn csv(rows: &[Self]) -> Csv {
        let mut csv = Csv::new(&[
            "period_start",
            "period_end",
            "priority",
            "opened",
            "breached",
            "first_response_breached",
            "resolution_breached",
            "breach_rate",
        ]);
        for r in rows {
            csv.row([
                r.period_start.into(),
                r.period_end.into(),
                r.priority.clone().into(),
                r.opened.into(),
                r.breached.into(),
                r.first_response_breached.into(),
                r.resolution_breached.into(),
                r.breach_rate.into(),
            ]);
        }
        csv
    }
}

/// Every bucket and priority, zeros where no ticket was opened.
pub async fn tickets(conn: &mut AsyncPgConnection, series: &Series) -> Result<Vec<TicketRow>, Problem> {
    let found = store::tickets(conn, &series.starts(), series.from(), series.to()).await?;
    let mut keyed = Vec::with_capacity(found.len());
    for t in &found {
        keyed.push((bucket(series, t.bucket)?, t));
    }
    let mut rows = Vec::new();
    for b in series.buckets() {
        for p in PRIORITIES {
            let t = keyed.iter().find(|(kb, t)| kb.start == b.start && t.priority == p).map(|(_, t)| *t);
            let (opened, breached, first, resolution) =
                t.map_or((0, 0, 0, 0), |t| (t.opened, t.breached, t.first_response_breached, t.resolution_breached));
            rows.push(TicketRow {
                period_start: b.start,
                period_end: b.end,
                priority: p.to_string(),
                opened,
                breached,
                first_response_breached: first,
                resolution_breached: resolution,
                breach_rate: ratio(breached, opened),
            });
        }
    }
    Ok(rows)
}
