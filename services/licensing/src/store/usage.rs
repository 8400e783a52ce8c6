use super::schema::{usage_alerts, usage_daily, usage_events};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn record_event(
    conn: &mut AsyncPgConnection,
    license: Uuid,
    user: Uuid,
    kind: &str,
    reason: Option<&str>,
    seats_used: i32,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(usage_events::table)
        .values((
            usage_events::license_id.eq(license),
            usage_events::user_id.eq(user),
            usage_events::kind.eq(kind),
            usage_events::reason.eq(reason),
            usage_events::seats_used.eq(seats_used),
            usage_events::occurred_at.eq(now),
        ))
        .execute(conn)
        .await
}

// A builder function rather than an SQL literal: a literal makes the statement uncacheable, so it
// would be parsed and planned again on every seat change.
diesel::define_sql_function! { fn greatest(a: diesel::sql_types::Int4, b: diesel::sql_types::Int4) -> diesel::sql_types::Int4; }

/// The day's row after a change from `before` to `after` seats in use: the first change of a day
/// also counts the level the day started at towards its peak.
pub async fn record_day(
    conn: &mut AsyncPgConnection,
    license: Uuid,
    day: NaiveDate,
    before: i32,
    after: i32,
) -> QueryResult<usize> {
    diesel::insert_into(usage_daily::table)
        .values((
            usage_daily::license_id.eq(license),
            usage_daily::day.eq(day),
            usage_daily::seats_used.eq(after),
            usage_daily::peak.eq(before.max(after)),
        ))
        .on_conflict((usage_daily::license_id, usage_daily::day))
        .do_update()
        .set((
            usage_daily::seats_used.eq(excluded(usage_daily::seats_used)),
            usage_daily::peak.eq(greatest(usage_daily::peak, excluded(usage_daily::seats_used))),
        ))
        .execute(conn)
        .await
}

/// The daily snapshot: one row per active license for `day`, unless a change already wrote one.
/// Idempotent, so every replica may run it.
pub async fn snapshot(conn: &mut AsyncPgConnection, day: NaiveDate) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO usage_daily (license_id, day, seats_used, peak) \
         SELECT id, $1, seats_used, seats_used FROM licenses WHERE status IN ('active', 'suspended') \
         ON CONFLICT (license_id, day) DO NOTHING",
    )
    .bind::<diesel::sql_types::Date, _>(day)
    .execute(conn)
    .await
}

#[derive(Debug, Clone, Queryable)]
pub struct DayRow {
    pub day: NaiveDate,
    pub seats_used: i32,
    pub peak: i32,
}

pub async fn days(
    conn: &mut AsyncPgConnection,
    license: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DayRow>> {
    // One row before the window seeds the carried-forward value.
    let before: Option<DayRow> = usage_daily::table
        .filter(usage_daily::license_id.eq(license))
        .filter(usage_daily::day.lt(from))
        .order(usage_daily::day.desc())
        .select((usage_daily::day, usage_daily::seats_used, usage_daily::peak))
        .first(conn)
        .await
        .optional()?;
    let mut rows: Vec<DayRow> = usage_daily::table
        .filter(usage_daily::license_id.eq(license))
        .filter(usage_daily::day.between(from, to))
        .order(usage_daily::day.asc())
        .select((usage_daily::day, usage_daily::seats_used, usage_daily::peak))
        .load(conn)
        .await?;
    if let Some(b) = before {
        rows.insert(0, b);
    }
    Ok(rows)
}

pub async fn insert_alert(
    conn: &mut AsyncPgConnection,
    license: Uuid,
    threshold: u8,
    seats: i32,
    used: i32,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(usage_alerts::table)
        .values((
            usage_alerts::license_id.eq(license),
            usage_alerts::threshold.eq(i16::from(threshold)),
            usage_alerts::seats.eq(seats),
            usage_alerts::seats_used.eq(used),
            usage_alerts::reached_at.eq(now),
        ))
        .execute(conn)
        .await
}

#[derive(Debug, Clone, Queryable)]
pub struct AlertRow {
    pub threshold: i16,
    pub seats: i32,
    pub seats_used: i32,
    pub reached_at: DateTime<Utc>,
}

pub async fn alerts(conn: &mut AsyncPgConnection, license: Uuid) -> QueryResult<Vec<AlertRow>> {
    usage_alerts::table
        .filter(usage_alerts::license_id.eq(license))
        .order((usage_alerts::reached_at.desc(), usage_alerts::id.desc()))
        .limit(100)
        .select((usage_alerts::threshold, usage_alerts::seats, usage_alerts::seats_used, usage_alerts::reached_at))
        .load(conn)
        .await
}
