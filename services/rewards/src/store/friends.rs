//! Friend requests and friendships (an accepted friendship is two rows, one per direction).

use super::schema::{friend_requests, friendships};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const DECLINED: &str = "declined";

/// Serialise every change to the pair {a, b} (two users asking each other at the same moment).
pub async fn lock_pair(conn: &mut AsyncPgConnection, a: Uuid, b: Uuid) -> QueryResult<()> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    platform::db::advisory_xact_lock(conn, &format!("friends:{low}:{high}")).await
}

/// The status of `requester`'s request to `addressee`, if one was made.
pub async fn request_status(
    conn: &mut AsyncPgConnection,
    requester: Uuid,
    addressee: Uuid,
) -> QueryResult<Option<String>> {
    friend_requests::table.find((requester, addressee)).select(friend_requests::status).first(conn).await.optional()
}

/// Create or reset `requester`'s request to `addressee` with `status`.
pub async fn put_request(
    conn: &mut AsyncPgConnection,
    requester: Uuid,
    addressee: Uuid,
    status: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    use friend_requests as r;
    let responded = (status != PENDING).then_some(now);
    diesel::insert_into(r::table)
        .values((
            r::requester_id.eq(requester),
            r::addressee_id.eq(addressee),
            r::status.eq(status),
            r::created_at.eq(now),
            r::responded_at.eq(responded),
        ))
        .on_conflict((r::requester_id, r::addressee_id))
        .do_update()
        .set((r::status.eq(status), r::created_at.eq(now), r::responded_at.eq(responded)))
        .execute(conn)
        .await
}

pub async fn befriend(conn: &mut AsyncPgConnection, a: Uuid, b: Uuid, now: DateTime<Utc>) -> QueryResult<usize> {
    use friendships as f;
    diesel::insert_into(f::table)
        .values(&vec![
            (f::user_id.eq(a), f::friend_id.eq(b), f::since.eq(now)),
            (f::user_id.eq(b), f::friend_id.eq(a), f::since.eq(now)),
        ])
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// End the friendship and forget requests both ways; the number of friendship rows removed.
pub async fn unfriend(conn: &mut AsyncPgConnection, a: Uuid, b: Uuid) -> QueryResult<usize> {
    use friendships as f;
    let removed = diesel::delete(
        f::table.filter(f::user_id.eq(a).and(f::friend_id.eq(b)).or(f::user_id.eq(b).and(f::friend_id.eq(a)))),
    )
    .execute(conn)
    .await?;
    use friend_requests as r;
    diesel::delete(
        r::table.filter(
            r::requester_id.eq(a).and(r::addressee_id.eq(b)).or(r::requester_id.eq(b).and(r::addressee_id.eq(a))),
        ),
    )
    .execute(conn)
    .await?;
    Ok(removed)
}

pub async fn are_friends(conn: &mut AsyncPgConnection, a: Uuid, b: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(friendships::table.find((a, b)))).get_result(conn).await
}

pub async fn count(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<i64> {
    friendships::table.filter(friendships::user_id.eq(user)).count().get_result(conn).await
}

pub async fn friend_ids(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<Uuid>> {
    friendships::table.filter(friendships::user_id.eq(user)).select(friendships::friend_id).load(conn).await
}

/// Keyset position in a friends list: newest friendship first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub since: DateTime<Utc>,
    pub id: Uuid,
}

pub async fn page(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<(Uuid, DateTime<Utc>)>> {
    use friendships as f;
    let mut query = f::table
        .filter(f::user_id.eq(user))
        .select((f::friend_id, f::since))
        .order((f::since.desc(), f::friend_id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        query = query.filter(f::since.lt(c.since).or(f::since.eq(c.since).and(f::friend_id.lt(c.id))));
    }
    query.load(conn).await
}

/// Pending requests involving `user`: (requester, addressee, sent at).
pub async fn pending(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<(Uuid, Uuid, DateTime<Utc>)>> {
    use friend_requests as r;
    r::table
        .filter(r::status.eq(PENDING))
        .filter(r::requester_id.eq(user).or(r::addressee_id.eq(user)))
        .order(r::created_at.desc())
        .limit(500)
        .select((r::requester_id, r::addressee_id, r::created_at))
        .load(conn)
        .await
}
