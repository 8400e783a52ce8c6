use super::schema::{licenses, seats};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = seats)]
pub struct Seat {
    pub id: Uuid,
    pub license_id: Uuid,
    pub user_id: Uuid,
    pub seat_number: i32,
    pub activated_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: Option<String>,
}

pub async fn active_of_user(conn: &mut AsyncPgConnection, license: Uuid, user: Uuid) -> QueryResult<Option<Seat>> {
    seats::table
        .filter(seats::license_id.eq(license))
        .filter(seats::user_id.eq(user))
        .filter(seats::released_at.is_null())
        .select(Seat::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn active_of_license(conn: &mut AsyncPgConnection, license: Uuid) -> QueryResult<Vec<Seat>> {
    seats::table
        .filter(seats::license_id.eq(license))
        .filter(seats::released_at.is_null())
        .order(seats::seat_number.asc())
        .select(Seat::as_select())
        .load(conn)
        .await
}

/// Where a page of a license's seats ends: the last seat number served.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NumberCursor {
    pub n: i32,
}

/// A page of a license's active seats by seat number (keyset on `seats_active_number`).
pub async fn page_of_license(
    conn: &mut AsyncPgConnection,
    license: Uuid,
    after: Option<NumberCursor>,
    limit: i64,
) -> QueryResult<Vec<Seat>> {
    let mut q = seats::table
        .filter(seats::license_id.eq(license))
        .filter(seats::released_at.is_null())
        .select(Seat::as_select())
        .into_boxed();
    if let Some(c) = after {
        q = q.filter(seats::seat_number.gt(c.n));
    }
    q.order(seats::seat_number.asc()).limit(limit + 1).load(conn).await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// A page of a user's active seats, newest first.
pub async fn page_for_user(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Seat>> {
    let mut q = seats::table
        .filter(seats::user_id.eq(user))
        .filter(seats::released_at.is_null())
        .select(Seat::as_select())
        .into_boxed();
    if let Some(c) = after {
        q = q.filter(seats::activated_at.lt(c.at).or(seats::activated_at.eq(c.at).and(seats::id.lt(c.id))));
    }
    q.order((seats::activated_at.desc(), seats::id.desc())).limit(limit + 1).load(conn).await
}

/// The caller's active seats with their licenses' organisation ids.
pub async fn active_for_user(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<(Seat, Uuid)>> {
    seats::table
        .inner_join(licenses::table)
        .filter(seats::user_id.eq(user))
        .filter(seats::released_at.is_null())
        .order(seats::activated_at.desc())
        .select((Seat::as_select(), licenses::organization_id))
        .load(conn)
        .await
}

pub async fn release(conn: &mut AsyncPgConnection, id: Uuid, reason: &str, now: DateTime<Utc>) -> QueryResult<Seat> {
    diesel::update(seats::table.find(id))
        .set((seats::released_at.eq(now), seats::release_reason.eq(reason)))
        .returning(Seat::as_returning())
        .get_result(conn)
        .await
}
