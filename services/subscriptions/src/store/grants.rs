use super::schema::{grants, tiers};
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

pub async fn revoke(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    source: &str,
    reference: &str,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        grants::table
            .filter(grants::user_id.eq(user_id))
            .filter(grants::source.eq(source))
            .filter(grants::reference.eq(reference))
            .filter(grants::revoked_at.is_null()),
    )
    .set(grants::revoked_at.eq(at))
    .execute(conn)
    .await
}

/// Pause (or resume, with `None`) every grant of a license: suspension and reinstatement.
pub async fn set_suspended(
    conn: &mut AsyncPgConnection,
    license: &str,
    at: Option<DateTime<Utc>>,
) -> QueryResult<Vec<Uuid>> {
    diesel::update(grants::table.filter(grants::source.eq("license")).filter(grants::reference.eq(license)))
        .set(grants::suspended_at.eq(at))
        .returning(grants::user_id)
        .get_results(conn)
        .await
}

/// Move the end of every grant of a license (extension).
pub async fn set_end(conn: &mut AsyncPgConnection, license: &str, ends_at: DateTime<Utc>) -> QueryResult<Vec<Uuid>> {
    diesel::update(
        grants::table
            .filter(grants::source.eq("license"))
            .filter(grants::reference.eq(license))
            .filter(grants::revoked_at.is_null()),
    )
    .set(grants::ends_at.eq(ends_at))
    .returning(grants::user_id)
    .get_results(conn)
    .await
}

/// End every grant of a license (revocation, expiry), whether or not its seat events arrive.
pub async fn revoke_license(conn: &mut AsyncPgConnection, license: &str, at: DateTime<Utc>) -> QueryResult<Vec<Uuid>> {
    diesel::update(
        grants::table
            .filter(grants::source.eq("license"))
            .filter(grants::reference.eq(license))
            .filter(grants::revoked_at.is_null()),
    )
    .set(grants::revoked_at.eq(at))
    .returning(grants::user_id)
    .get_results(conn)
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

/// Grants in force at `now`: (tier, rank, source).
pub async fn active(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(String, i32, String)>> {
    grants::table
        .inner_join(tiers::table.on(tiers::code.eq(grants::tier)))
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked_at.is_null())
        .filter(grants::suspended_at.is_null())
        .filter(grants::starts_at.le(now))
        .filter(grants::ends_at.is_null().or(grants::ends_at.gt(now)))
        .select((grants::tier, tiers::rank, grants::source))
        .load(conn)
        .await
}
