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
