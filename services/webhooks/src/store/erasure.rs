//! What an erasure reads and writes (`crate::erasure`): the stored events that name a person, the
//! answers to their deliveries, and the record of who was erased.

use super::schema::{attempts as a, erased_users as eu, events as ev};
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The stored events (id, payload) whose payload names `user`, except the types in `exempt`,
/// locked so a replay does not send a payload half-way through its erasure. A scan of the table:
/// it holds WEBHOOKS_RETENTION_DAYS of events, and an erasure is rare.
pub async fn events_naming(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    exempt: &[&str],
) -> QueryResult<Vec<(Uuid, String)>> {
    ev::table
        .filter(sql::<Bool>("strpos(payload, ").bind::<Text, _>(user.to_string()).sql(") > 0"))
        .filter(ev::event_type.ne_all(exempt.to_vec()))
        .select((ev::id, ev::payload))
        .order(ev::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn replace_payload(conn: &mut AsyncPgConnection, id: Uuid, payload: &str) -> QueryResult<()> {
    diesel::update(ev::table.find(id)).set(ev::payload.eq(payload)).execute(conn).await?;
    Ok(())
}

/// The answers partners gave to deliveries of `events` gone (they may echo the payload).
pub async fn drop_response_bodies(conn: &mut AsyncPgConnection, events: &[Uuid]) -> QueryResult<usize> {
    diesel::update(a::table.filter(a::event_id.eq_any(events.to_vec())).filter(a::response_body.is_not_null()))
        .set(a::response_body.eq(None::<String>))
        .execute(conn)
        .await
}

pub async fn record_erased(conn: &mut AsyncPgConnection, user: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::insert_into(eu::table)
        .values((eu::user_id.eq(user), eu::erased_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Which of `ids` are people erased here.
pub async fn erased_among(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    eu::table.filter(eu::user_id.eq_any(ids.to_vec())).select(eu::user_id).load(conn).await
}

/// An erasure's lock on the events: it waits for the consumers' transactions that are storing
/// events, and holds back new ones until it commits (SHARE ROW EXCLUSIVE conflicts with their
/// ROW EXCLUSIVE, and with itself, so two erasures do not deadlock upgrading).
pub async fn lock_for_erasure(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE").execute(conn).await?;
    Ok(())
}

/// A consumer's lock before it reads `erased_users` and stores an event: taken after any erasure
/// in progress has committed, so the consumer sees that erasure and stores its event scrubbed.
pub async fn lock_for_storing(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("LOCK TABLE events IN ROW EXCLUSIVE MODE").execute(conn).await?;
    Ok(())
}
