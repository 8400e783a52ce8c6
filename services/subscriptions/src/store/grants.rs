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

mod sql {
    use diesel::sql_types::{Int8, Nullable, Text, Timestamptz, Uuid};
    diesel::define_sql_function! {
        fn apply_seat_activation(
            grant_id: Uuid, user_id: Uuid, license: Text, tier: Text, at: Timestamptz,
            ends_at: Nullable<Timestamptz>, version: Int8
        ) -> Bool;
    }
}

/// Apply `seat.activated`, in one round trip (`apply_seat_activation`, migration
/// 2026-12-19-100001): the grant is created, or revived after a release (a seat activated again),
/// unless a later seat event was already applied (last writer by version; equal versions apply in
/// arrival order, so events published before versions existed, all 0, behave as before). `false`:
/// a later event had been applied.
///
/// Then the license's end the event reports (`ends_at`), as of `version`: like
/// [`super::licenses::set_expiry`], but nothing is written or locked when the license already has
/// that end, whatever version recorded it. Every seat activation of a license reports the
/// license's end; when it did not change, an upsert would only move `expires_version`, holding the
/// row every seat of the license shares until commit (`make bench`: 5.7 ms of waiting per upsert).
/// Skipping it loses no ordering: a seat event never changes the end itself, and every change of
/// the end arrives as its own license event (extension, reinstatement), applied by `set_expiry`
/// with its version, so an older event arriving late is still refused by the version of the change
/// that followed it.
pub async fn activate_seat(
    conn: &mut AsyncPgConnection,
    seat: &SeatChange<'_>,
    tier: &str,
    ends_at: Option<DateTime<Utc>>,
) -> QueryResult<bool> {
    diesel::select(sql::apply_seat_activation(
        Uuid::now_v7(),
        seat.user_id,
        seat.license,
        tier,
        seat.at,
        ends_at,
        seat.version,
    ))
    .get_result(conn)
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
#[derive(Debug)]
pub struct Window {
    pub tier: String,
    pub rank: i32,
    pub source: String,
    pub starts_at: DateTime<Utc>,
    /// The license's latest known end for a seat, the grant's own end otherwise.
    pub ends_at: Option<DateTime<Utc>>,
}

/// A user's unrevoked grant as read: its tier's rank and, for a seat, its license's state.
type GrantRow = (String, i32, String, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>, Option<DateTime<Utc>>);

/// Grants in force at `now` or starting later (nothing ended, revoked or paused). A seat counts
/// while its license is `active` (not suspended, revoked or expired) and until the license's
/// latest known end. The upcoming ones tell when a cached answer changes with no write at all.
///
/// Built with the query builder, not as SQL text, so the statement is prepared once per connection
/// (diesel caches no `sql_query`): every feature check that misses the cache runs it, and planning
/// a three-table join each time was most of such a miss's database work. A user has a handful of
/// grants, so the license's state and the end are judged here ([`in_force`]) rather than in SQL.
/// Takes the connection shared, so it can be pipelined with the subscription's read.
pub async fn current_and_upcoming(
    mut conn: &AsyncPgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Window>> {
    use super::schema::{licenses, tiers};
    let rows: Vec<GrantRow> = grants::table
        .inner_join(tiers::table.on(tiers::code.eq(grants::tier)))
        .left_join(licenses::table.on(grants::source.eq("license").and(licenses::license_id.eq(grants::reference))))
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked_at.is_null())
        .select((
            grants::tier,
            tiers::rank,
            grants::source,
            grants::starts_at,
            grants::ends_at,
            licenses::status.nullable(),
            licenses::expires_at.nullable(),
        ))
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().filter_map(|row| in_force(row, now)).collect())
}

/// A grant's window unless it no longer counts at `now`: its license is not active, or its end
/// (the license's latest known end for a seat, the grant's own otherwise) has passed.
fn in_force(row: GrantRow, now: DateTime<Utc>) -> Option<Window> {
    let (tier, rank, source, starts_at, own_end, license_status, license_end) = row;
    if license_status.as_deref().is_some_and(|s| s != "active") {
        return None;
    }
    let ends_at = license_end.or(own_end);
    if ends_at.is_some_and(|end| end <= now) {
        return None;
    }
    Some(Window { tier, rank, source, starts_at, ends_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(source: &str, own_end: Option<i64>, license: Option<(&str, Option<i64>)>) -> GrantRow {
        let at = |h: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::hours(h);
        (
            "pro".into(),
            2,
            source.into(),
            at(0),
            own_end.map(at),
            license.map(|(s, _)| s.to_string()),
            license.and_then(|(_, end)| end.map(at)),
        )
    }

    #[test]
    fn a_grant_counts_while_its_license_is_active_and_until_the_latest_end() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::hours(10);
        let end = |w: Option<Window>| w.map(|w| w.ends_at.map(|e| (e - DateTime::<Utc>::UNIX_EPOCH).num_hours()));
        // A reward month: its own end.
        assert_eq!(end(in_force(row("reward", Some(20), None), now)), Some(Some(20)));
        assert_eq!(end(in_force(row("reward", Some(10), None), now)), None, "ended at now");
        assert_eq!(end(in_force(row("reward", None, None), now)), Some(None), "open-ended");
        // A seat: the license's end wins over the grant's, and only an active license counts.
        assert_eq!(end(in_force(row("license", Some(5), Some(("active", Some(30)))), now)), Some(Some(30)));
        assert_eq!(end(in_force(row("license", Some(30), Some(("active", Some(9)))), now)), None);
        assert_eq!(end(in_force(row("license", None, Some(("active", None))), now)), Some(None));
        for state in ["suspended", "revoked", "expired"] {
            assert_eq!(end(in_force(row("license", None, Some((state, Some(30)))), now)), None, "{state}");
        }
        // A seat whose license subscriptions has not heard of yet: its own window.
        assert_eq!(end(in_force(row("license", Some(20), None), now)), Some(Some(20)));
    }
}
