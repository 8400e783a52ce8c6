use super::schema::licenses;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::test_clocks::Pass;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = licenses)]
pub struct License {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// HMAC-SHA256 of the canonical key (platform::code_hash): the key itself is never kept.
    pub license_key_hash: Vec<u8>,
    /// Its first five symbols, shown in lists.
    pub license_key_prefix: String,
    pub tier: String,
    pub seats: i32,
    pub seats_used: i32,
    pub peak_seats_used: i32,
    pub alert_level: i16,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status_reason: Option<String>,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub license_version: i64,
    /// The test clock it lives on (sandbox only): it expires in the clock's time.
    pub test_clock_id: Option<Uuid>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = licenses)]
pub struct NewLicense<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub license_key_hash: &'a [u8],
    pub license_key_prefix: &'a str,
    pub tier: &'a str,
    pub seats: i32,
    pub status: &'a str,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub test_clock_id: Option<Uuid>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewLicense<'_>) -> QueryResult<License> {
    diesel::insert_into(licenses::table).values(new).returning(License::as_returning()).get_result(conn).await
}

/// The test clock a license lives on (sandbox only); `None` for a license in real time or none.
pub async fn clock_of(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Uuid>> {
    let clock = licenses::table.find(id).select(licenses::test_clock_id).first(conn).await.optional()?;
    Ok(clock.flatten())
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<License>> {
    licenses::table.find(id).select(License::as_select()).first(conn).await.optional()
}

/// The license, locked until the end of the transaction: every change of its seats goes
/// through this lock, so concurrent activations queue instead of overbooking. `FOR NO KEY
/// UPDATE`, not `FOR UPDATE`: inserts that merely reference the license (its usage rows, tickets)
/// take `KEY SHARE` on it and must not queue behind an activation, or they deadlock with it.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<License>> {
    licenses::table.find(id).for_no_key_update().select(License::as_select()).first(conn).await.optional()
}

/// Take the license's next version, for an event about it or one of its seats written in the
/// same transaction. The UPDATE holds the row lock until commit, so two transactions never take
/// the same version and versions commit in the order they were taken.
pub async fn next_version(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<i64> {
    diesel::update(licenses::table.find(id))
        .set(licenses::license_version.eq(licenses::license_version + 1))
        .returning(licenses::license_version)
        .get_result(conn)
        .await
}

pub async fn tier_exists(conn: &mut AsyncPgConnection, tier: &str) -> QueryResult<bool> {
    use super::schema::tiers;
    diesel::select(diesel::dsl::exists(tiers::table.filter(tiers::tier.eq(tier)))).get_result(conn).await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// Newest first; `org` limits to one organisation.
pub async fn page(
    conn: &mut AsyncPgConnection,
    org: Option<Uuid>,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<License>> {
    let mut q = licenses::table.select(License::as_select()).into_boxed();
    if let Some(org) = org {
        q = q.filter(licenses::organization_id.eq(org));
    }
    if let Some(c) = after {
        q = q.filter(licenses::created_at.lt(c.at).or(licenses::created_at.eq(c.at).and(licenses::id.lt(c.id))));
    }
    q.order((licenses::created_at.desc(), licenses::id.desc())).limit(limit + 1).load(conn).await
}

/// Active licenses of an organisation that are within their validity at `now`, latest expiry first.
pub async fn usable_for_org(conn: &mut AsyncPgConnection, org: Uuid, now: DateTime<Utc>) -> QueryResult<Vec<License>> {
    licenses::table
        .filter(licenses::organization_id.eq(org))
        .filter(licenses::status.eq("active"))
        .filter(licenses::starts_at.le(now))
        .filter(licenses::expires_at.gt(now))
        .order(licenses::expires_at.desc())
        .select(License::as_select())
        .load(conn)
        .await
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<License> {
    diesel::update(licenses::table.find(id))
        .set((
            licenses::status.eq(status),
            licenses::status_reason.eq(reason),
            licenses::status_changed_at.eq(now),
            licenses::updated_at.eq(now),
        ))
        .returning(License::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_expiry(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<License> {
    diesel::update(licenses::table.find(id))
        .set((licenses::expires_at.eq(expires_at), licenses::updated_at.eq(now)))
        .returning(License::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_seats(conn: &mut AsyncPgConnection, id: Uuid, seats: i32, now: DateTime<Utc>) -> QueryResult<License> {
    diesel::update(licenses::table.find(id))
        .set((licenses::seats.eq(seats), licenses::updated_at.eq(now)))
        .returning(License::as_returning())
        .get_result(conn)
        .await
}

/// Record a new count of seats in use on a locked license (the peak follows it up).
pub async fn set_seats_used(
    conn: &mut AsyncPgConnection,
    license: &License,
    used: i32,
    now: DateTime<Utc>,
) -> QueryResult<License> {
    diesel::update(licenses::table.find(license.id))
        .set((
            licenses::seats_used.eq(used),
            licenses::peak_seats_used.eq(license.peak_seats_used.max(used)),
            licenses::updated_at.eq(now),
        ))
        .returning(License::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_alert_level(conn: &mut AsyncPgConnection, id: Uuid, level: i16) -> QueryResult<usize> {
    diesel::update(licenses::table.find(id)).set(licenses::alert_level.eq(level)).execute(conn).await
}

/// Licenses past their expiry that are not marked expired yet, locked; rows another replica holds
/// are skipped, so two schedulers never expire the same license.
pub async fn lock_due_for_expiry(conn: &mut AsyncPgConnection, pass: Pass, limit: i64) -> QueryResult<Vec<License>> {
    let on_clock: Box<dyn BoxableExpression<licenses::table, Pg, SqlType = Bool>> = match pass.clock {
        None => Box::new(licenses::test_clock_id.is_null()),
        Some(clock) => Box::new(licenses::test_clock_id.eq(clock).assume_not_null()),
    };
    licenses::table
        .filter(on_clock)
        .filter(licenses::status.eq_any(["active", "suspended"]))
        .filter(licenses::expires_at.le(pass.now))
        .order(licenses::expires_at.asc())
        .limit(limit)
        .for_no_key_update()
        .skip_locked()
        .select(License::as_select())
        .load(conn)
        .await
}
