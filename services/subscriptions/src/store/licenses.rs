//! Each license's own state as licensing last reported it, by `license_version`: a later version
//! always wins, whatever order the events arrive in (equal versions apply in arrival order).

use super::schema::licenses;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_dsl::methods::FilterDsl;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub const ACTIVE: &str = "active";
pub const SUSPENDED: &str = "suspended";
pub const REVOKED: &str = "revoked";
pub const EXPIRED: &str = "expired";

/// `active` | `suspended` | `revoked` | `expired`, as of `version`.
pub async fn set_status(conn: &mut AsyncPgConnection, license: &str, status: &str, version: i64) -> QueryResult<usize> {
    diesel::insert_into(licenses::table)
        .values((licenses::license_id.eq(license), licenses::status.eq(status), licenses::status_version.eq(version)))
        .on_conflict(licenses::license_id)
        .do_update()
        .set((
            licenses::status.eq(excluded(licenses::status)),
            licenses::status_version.eq(excluded(licenses::status_version)),
        ))
        .filter(licenses::status_version.le(excluded(licenses::status_version)))
        .execute(conn)
        .await
}

/// The license runs until `expires_at`, as of `version` (activation, extension, reinstatement).
pub async fn set_expiry(
    conn: &mut AsyncPgConnection,
    license: &str,
    expires_at: DateTime<Utc>,
    version: i64,
) -> QueryResult<usize> {
    diesel::insert_into(licenses::table)
        .values((
            licenses::license_id.eq(license),
            licenses::expires_at.eq(expires_at),
            licenses::expires_version.eq(version),
        ))
        .on_conflict(licenses::license_id)
        .do_update()
        .set((
            licenses::expires_at.eq(excluded(licenses::expires_at)),
            licenses::expires_version.eq(excluded(licenses::expires_version)),
        ))
        .filter(licenses::expires_version.le(excluded(licenses::expires_version)))
        .execute(conn)
        .await
}

/// The expiry a seat event reports, as of `version`: like [`set_expiry`], but nothing is written
/// or locked when the license already has that expiry, whatever version recorded it. Every seat
/// activation of a license reports the license's end; when it did not change, the upsert only
/// moved `expires_version`, holding the row every seat of the license shares until commit
/// (`make bench`: 5.7 ms of waiting per upsert). Skipping it loses no ordering: a seat event never
/// changes the end itself, and every change of the end arrives as its own license event
/// (extension, reinstatement), applied by [`set_expiry`] with its version, so an older event
/// arriving late is still refused by the version of the change that followed it.
pub async fn note_expiry_of_seat(
    conn: &mut AsyncPgConnection,
    license: &str,
    expires_at: DateTime<Utc>,
    version: i64,
) -> QueryResult<usize> {
    use diesel::sql_types::{Int8, Text, Timestamptz};
    diesel::sql_query(
        "INSERT INTO licenses (license_id, expires_at, expires_version)
         SELECT $1, $2, $3
         WHERE NOT EXISTS (SELECT 1 FROM licenses WHERE license_id = $1 AND expires_at = $2)
         ON CONFLICT (license_id) DO UPDATE
           SET expires_at = EXCLUDED.expires_at, expires_version = EXCLUDED.expires_version
           WHERE licenses.expires_version <= EXCLUDED.expires_version",
    )
    .bind::<Text, _>(license)
    .bind::<Timestamptz, _>(expires_at)
    .bind::<Int8, _>(version)
    .execute(conn)
    .await
}
