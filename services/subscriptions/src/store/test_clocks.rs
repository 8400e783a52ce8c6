//! The test clocks this service owns (issue 23, point 5): the shared `test_clocks` table plus
//! owner, name, starting time and status.

use super::schema::test_clocks;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub const READY: &str = "ready";
pub const ADVANCING: &str = "advancing";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = test_clocks)]
pub struct TestClock {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub now: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub name: String,
    pub frozen_time: DateTime<Utc>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, clock: &TestClock) -> QueryResult<TestClock> {
    diesel::insert_into(test_clocks::table).values(clock).returning(TestClock::as_returning()).get_result(conn).await
}

/// A clock that is not deleted (a deleted one is kept only as its objects' frozen time).
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TestClock>> {
    test_clocks::table
        .find(id)
        .filter(test_clocks::deleted_at.is_null())
        .select(TestClock::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TestClock>> {
    test_clocks::table
        .find(id)
        .filter(test_clocks::deleted_at.is_null())
        .for_update()
        .select(TestClock::as_select())
        .first(conn)
        .await
        .optional()
}

/// Clocks oldest first, after `after` (created_at, id); only `owner`'s unless `None` (admins).
pub async fn list(
    conn: &mut AsyncPgConnection,
    owner: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<TestClock>> {
    let mut q =
        test_clocks::table.filter(test_clocks::deleted_at.is_null()).select(TestClock::as_select()).into_boxed();
    if let Some(owner) = owner {
        q = q.filter(test_clocks::owner_id.eq(owner));
    }
    if let Some((at, id)) = after {
        q = q.filter(test_clocks::created_at.gt(at).or(test_clocks::created_at.eq(at).and(test_clocks::id.gt(id))));
    }
    q.order((test_clocks::created_at, test_clocks::id)).limit(limit).load(conn).await
}

/// Move the clock to `now` (the caller checked it is forward) and mark it `advancing` until the
/// scheduler has caught up with it.
pub async fn advance(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<TestClock> {
    diesel::update(test_clocks::table.find(id))
        .set((
            test_clocks::now.eq(now),
            test_clocks::status.eq(ADVANCING),
            test_clocks::updated_at.eq(diesel::dsl::now),
        ))
        .returning(TestClock::as_returning())
        .get_result(conn)
        .await
}

/// The scheduler ran everything due on the clock as of `now`: `ready`, unless it moved meanwhile.
pub async fn mark_ready(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(test_clocks::table.find(id))
        .filter(test_clocks::now.eq(now))
        .filter(test_clocks::status.eq(ADVANCING))
        .set(test_clocks::status.eq(READY))
        .execute(conn)
        .await
}

/// Mark the clock deleted. The row stays: it is the frozen time of the objects on it
/// (`events::test_clocks::now_of`), and no scheduler pass runs for it any more.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid, at: DateTime<Utc>) -> QueryResult<TestClock> {
    diesel::update(test_clocks::table.find(id))
        .set((test_clocks::deleted_at.eq(at), test_clocks::updated_at.eq(at)))
        .returning(TestClock::as_returning())
        .get_result(conn)
        .await
}
