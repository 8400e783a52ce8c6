//! Endpoints: admin CRUD, secret rotation, failure tracking.

use super::schema::endpoints as e;
use super::Cursor;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = e)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub secret_sealed: Vec<u8>,
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub enabled: bool,
    pub secret_sealed: &'a [u8],
}

pub async fn insert(conn: &mut AsyncPgConnection, n: &NewEndpoint<'_>, now: DateTime<Utc>) -> QueryResult<Endpoint> {
    diesel::insert_into(e::table)
        .values((
            e::id.eq(n.id),
            e::url.eq(n.url),
            e::description.eq(n.description),
            e::event_types.eq(n.event_types),
            e::enabled.eq(n.enabled),
            e::secret_sealed.eq(n.secret_sealed),
            e::created_at.eq(now),
            e::updated_at.eq(now),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Endpoint>> {
    e::table.find(id).select(Endpoint::as_select()).first(conn).await.optional()
}

/// The row, locked for an update in the caller's transaction.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Endpoint>> {
    e::table.find(id).select(Endpoint::as_select()).for_update().first(conn).await.optional()
}

pub async fn page(conn: &mut AsyncPgConnection, after: Option<Cursor>, limit: i64) -> QueryResult<Vec<Endpoint>> {
    let mut q = e::table
        .select(Endpoint::as_select())
        .order((e::created_at.desc(), e::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        q = q.filter(e::created_at.lt(c.at).or(e::created_at.eq(c.at).and(e::id.lt(c.id))));
    }
    q.load(conn).await
}

/// Every enabled endpoint (the consumer matches each event against them; there are few).
pub async fn enabled(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Endpoint>> {
    e::table.filter(e::enabled.eq(true)).select(Endpoint::as_select()).load(conn).await
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = e)]
pub struct Changes {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// `Some(None)` clears the failure record (re-enabling starts afresh).
    pub failing_since: Option<Option<DateTime<Utc>>>,
    pub disabled_reason: Option<Option<String>>,
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, c: &Changes, now: DateTime<Utc>) -> QueryResult<Endpoint> {
    diesel::update(e::table.find(id))
        .set((c, e::updated_at.eq(now)))
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(e::table.find(id)).execute(conn).await? > 0)
}

/// Install a new secret; the current one keeps signing until `grace_until`.
pub async fn rotate(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    new_sealed: &[u8],
    old_sealed: &[u8],
    grace_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Endpoint> {
    diesel::update(e::table.find(id))
        .set((
            e::secret_sealed.eq(new_sealed),
            e::previous_secret_sealed.eq(Some(old_sealed)),
            e::previous_secret_expires_at.eq(Some(grace_until)),
            e::updated_at.eq(now),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await
}

/// After a successful attempt: the endpoint is healthy again.
pub async fn mark_healthy(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(e::table.find(id).filter(e::failing_since.is_not_null()))
        .set(e::failing_since.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await?;
    Ok(())
}

/// After a failed attempt: remember when the failures began; returns that time.
pub async fn mark_failing(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<DateTime<Utc>> {
    diesel::update(e::table.find(id))
        .set(
            e::failing_since.eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
                "COALESCE(failing_since, ",
            )
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .sql(")")),
        )
        .returning(e::failing_since)
        .get_result::<Option<DateTime<Utc>>>(conn)
        .await
        .map(|t| t.unwrap_or(now))
}

/// Disable an endpoint that failed for too long; `false` when it was already disabled.
pub async fn disable(conn: &mut AsyncPgConnection, id: Uuid, reason: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let n = diesel::update(e::table.find(id).filter(e::enabled.eq(true)))
        .set((e::enabled.eq(false), e::disabled_reason.eq(Some(reason)), e::updated_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(n > 0)
}
