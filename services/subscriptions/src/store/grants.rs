use super::schema::grants;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Grant `tier` from `source` (`license` seat or `reward`), idempotent per (source, reference, user).
pub async fn grant(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    source: &str,
    tier: &str,
    reference: &str,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    diesel::insert_into(grants::table)
        .values((
            grants::id.eq(Uuid::now_v7()),
            grants::user_id.eq(user_id),
            grants::source.eq(source),
            grants::tier.eq(tier),
            grants::reference.eq(reference),
            grants::starts_at.eq(starts_at),
            grants::ends_at.eq(ends_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// A seat event for `user_id` on `license`, as of `version` (the license's counter).
pub struct SeatChange<'a> {
    pub user_id: Uuid,
    pub license: &'a str,
    pub version: i64,
    pub at: DateTime<Utc>,
}

/// Apply `seat.activated`: the grant is created, or revived after a release (a seat activated
/// again), unless a later seat event was already applied (last writer by version; equal versions
/// apply in arrival order, so events published before versions existed, all 0, behave as before).
pub async fn activate_seat(
    conn: &mut AsyncPgConnection,
    seat: &SeatChange<'_>,
    tier: &str,
    ends_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    use diesel::query_dsl::methods::FilterDsl;
    use diesel::upsert::excluded;
    diesel::insert_into(grants::table)
        .values((
            grants::id.eq(Uuid::now_v7()),
            grants::user_id.eq(seat.user_id),
            grants::source.eq("license"),
            grants::tier.eq(tier),
            grants::reference.eq(seat.license),
            grants::starts_at.eq(seat.at),
            grants::ends_at.eq(ends_at),
            grants::revoked_at.eq(None::<DateTime<Utc>>),
            grants::version.eq(seat.version),
        ))
        .on_conflict((grants::source, grants::reference, grants::user_id))
        .do_update()
        .set((
            grants::tier.eq(excluded(grants::tier)),
            grants::starts_at.eq(excluded(grants::starts_at)),
            grants::ends_at.eq(excluded(grants::ends_at)),
            grants::revoked_at.eq(None::<DateTime<Utc>>),
            grants::version.eq(excluded(grants::version)),
        ))
        .filter(grants::version.le(excluded(grants::version)))
        .execute(conn)
        .await
}

/// Apply `seat.released`: the grant ends, unless a later seat event was already applied. A release
/// that overtakes its activation leaves a revoked row behind, so the older activation, arriving
/// last, changes nothing.
pub async fn release_seat(conn: &mut AsyncPgConnection, seat: &SeatChange<'_>) -> QueryResult<usize> {
    use diesel::query_dsl::methods::FilterDsl;
    use diesel::upsert::excluded;
    diesel::insert_into(grants::table)
        .values((
            grants::id.eq(Uuid::now_v7()),
            grants::user_id.eq(seat.user_id),
            grants::source.eq("license"),
            // A placeholder: a revoked row grants nothing.
            grants::tier.eq("enterprise"),
            grants::reference.eq(seat.license),
            grants::starts_at.eq(seat.at),
            grants::revoked_at.eq(Some(seat.at)),
            grants::version.eq(seat.version),
        ))
        .on_conflict((grants::source, grants::reference, grants::user_id))
        .do_update()
        .set((grants::revoked_at.eq(excluded(grants::revoked_at)), grants::version.eq(excluded(grants::version))))
        .filter(grants::version.le(excluded(grants::version)))
        .execute(conn)
        .await
}

/// Users holding (or having held) a seat of the license: whose cached answers a license-wide
/// change makes stale.
pub async fn users_of_license(conn: &mut AsyncPgConnection, license: &str) -> QueryResult<Vec<Uuid>> {
    grants::table
        .filter(grants::source.eq("license"))
        .filter(grants::reference.eq(license))
        .select(grants::user_id)
        .load(conn)
        .await
}

/// The latest end of the user's reward grants of `tier` still running at `now` (to extend a Pro month).
pub async fn reward_end(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    tier: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::source.eq("reward"))
        .filter(grants::tier.eq(tier))
        .filter(grants::revoked_at.is_null())
        .filter(grants::ends_at.gt(now))
        .select(diesel::dsl::max(grants::ends_at))
        .first::<Option<DateTime<Utc>>>(conn)
        .await
}

/// A grant that is in force at `now` or will start later: (tier, rank, source) and its window.
#[derive(QueryableByName)]
pub struct Window {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub tier: String,
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub rank: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub source: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub starts_at: DateTime<Utc>,
    /// The license's latest known end for a seat, the grant's own end otherwise.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub ends_at: Option<DateTime<Utc>>,
}

/// Grants in force at `now` or starting later (nothing ended, revoked or paused). A seat counts
/// while its license is `active` (not suspended, revoked or expired) and until the license's
/// latest known end. The upcoming ones tell when a cached answer changes with no write at all.
pub async fn current_and_upcoming(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Window>> {
    use diesel::sql_types::{Timestamptz, Uuid as SqlUuid};
    diesel::sql_query(
        "SELECT g.tier, t.rank, g.source, g.starts_at, COALESCE(l.expires_at, g.ends_at) AS ends_at
           FROM grants g
           JOIN tiers t ON t.code = g.tier
           LEFT JOIN licenses l ON g.source = 'license' AND l.license_id = g.reference
          WHERE g.user_id = $1
            AND g.revoked_at IS NULL
            AND (l.status IS NULL OR l.status = 'active')
            AND (COALESCE(l.expires_at, g.ends_at) IS NULL OR COALESCE(l.expires_at, g.ends_at) > $2)",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await
}
