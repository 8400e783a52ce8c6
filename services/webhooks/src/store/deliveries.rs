//! Events received, deliveries and their attempts.

use super::schema::{attempts as a, deliveries as d, events as ev};
use super::Cursor;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Int4, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// Keep the event (once, whatever the redeliveries).
pub async fn store_event(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    event_type: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(ev::table)
        .values((ev::id.eq(id), ev::event_type.eq(event_type), ev::payload.eq(payload), ev::received_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn event_exists(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<String>> {
    ev::table.find(id).select(ev::event_type).first(conn).await.optional()
}

/// A delivery row of `event` to `endpoint`, due at once.
#[derive(Insertable)]
#[diesel(table_name = d)]
struct NewDelivery<'a> {
    id: Uuid,
    event_id: Uuid,
    endpoint_id: Uuid,
    event_type: &'a str,
    status: &'static str,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> NewDelivery<'a> {
    fn due_now(event: Uuid, event_type: &'a str, endpoint: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_id: event,
            endpoint_id: endpoint,
            event_type,
            status: PENDING,
            next_attempt_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }
}

/// One delivery of `event` to `endpoint`, due at once; nothing when it exists already.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    event: Uuid,
    event_type: &str,
    endpoint: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(d::table)
        .values(NewDelivery::due_now(event, event_type, endpoint, now))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// A delivery the dispatcher took, with what it needs to send it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub endpoint_id: Uuid,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub payload: String,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Bytea)]
    pub secret_sealed: Vec<u8>,
    #[diesel(sql_type = Nullable<Bytea>)]
    pub previous_secret_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// Take up to `limit` due deliveries of enabled endpoints: each is leased until `lease_until`
/// (its `next_attempt_at` moves there), so another replica skips it now (SKIP LOCKED) and after
/// this commit (not due), and a replica that dies mid-attempt leaves it to be retried when the
/// lease ends: at least once.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "WITH due AS (
             SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND e.enabled
             ORDER BY d.next_attempt_at
             LIMIT $3
             FOR UPDATE OF d SKIP LOCKED)
         UPDATE deliveries d SET next_attempt_at = $2
         FROM due, endpoints e, events v
         WHERE d.id = due.id AND e.id = d.endpoint_id AND v.id = d.event_id
         RETURNING d.id, d.event_id, d.endpoint_id, d.attempts, v.payload, e.url, e.secret_sealed,
                   e.previous_secret_sealed, e.previous_secret_expires_at",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<Int8, _>(limit)
    .load(conn)
    .await
}

/// One attempt's result, for the log.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub succeeded: bool,
}

/// Log the attempt and move the delivery on: succeeded, failed, or pending until `next`.
pub async fn record(
    conn: &mut AsyncPgConnection,
    c: &Claimed,
    r: &AttemptResult,
    next: Option<DateTime<Utc>>,
) -> QueryResult<&'static str> {
    let attempt = c.attempts + 1;
    diesel::insert_into(a::table)
        .values((
            a::id.eq(Uuid::now_v7()),
            a::delivery_id.eq(c.id),
            a::endpoint_id.eq(c.endpoint_id),
            a::event_id.eq(c.event_id),
            a::attempt.eq(attempt),
            a::attempted_at.eq(r.attempted_at),
            a::status_code.eq(r.status_code),
            a::latency_ms.eq(r.latency_ms),
            a::response_body.eq(&r.response_body),
            a::error.eq(&r.error),
            a::succeeded.eq(r.succeeded),
        ))
        .execute(conn)
        .await?;
    let status = match (r.succeeded, next) {
        (true, _) => SUCCEEDED,
        (false, Some(_)) => PENDING,
        (false, None) => FAILED,
    };
    diesel::update(d::table.find(c.id))
        .set((
            d::status.eq(status),
            d::attempts.eq(attempt),
            d::next_attempt_at.eq(if status == PENDING { next } else { None }),
            d::updated_at.eq(r.attempted_at),
        ))
        .execute(conn)
        .await?;
    Ok(status)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = a)]
pub struct Attempt {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub succeeded: bool,
}

/// Which attempts to list.
pub enum Of {
    Endpoint(Uuid),
    Event(Uuid),
}

/// Attempts, newest first.
pub async fn attempts(
    conn: &mut AsyncPgConnection,
    of: Of,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Attempt>> {
    let mut q = a::table
        .select(Attempt::as_select())
        .order((a::attempted_at.desc(), a::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    q = match of {
        Of::Endpoint(id) => q.filter(a::endpoint_id.eq(id)),
        Of::Event(id) => q.filter(a::event_id.eq(id)),
    };
    if let Some(c) = after {
        q = q.filter(a::attempted_at.lt(c.at).or(a::attempted_at.eq(c.at).and(a::id.lt(c.id))));
    }
    q.load(conn).await
}

/// Send `event` to `endpoint` again, in a new round of attempts (a delivery row is created when
/// the endpoint never had one for it).
pub async fn replay_one(
    conn: &mut AsyncPgConnection,
    endpoint: Uuid,
    event: Uuid,
    event_type: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(d::table)
        .values(NewDelivery::due_now(event, event_type, endpoint, now))
        .on_conflict((d::event_id, d::endpoint_id))
        .do_update()
        .set((d::status.eq(PENDING), d::attempts.eq(0), d::next_attempt_at.eq(Some(now)), d::updated_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Send every failed delivery of `endpoint` created since `since` again; returns how many.
pub async fn replay_failed(
    conn: &mut AsyncPgConnection,
    endpoint: Uuid,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        d::table.filter(d::endpoint_id.eq(endpoint)).filter(d::status.eq(FAILED)).filter(d::created_at.ge(since)),
    )
    .set((d::status.eq(PENDING), d::attempts.eq(0), d::next_attempt_at.eq(Some(now)), d::updated_at.eq(now)))
    .execute(conn)
    .await
}
