//! Erasure requests (rewards owns them for the whole platform) and the services' confirmations.

use super::schema::{erasure_confirmations, erasure_requests};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erasure_requests)]
pub struct Request {
    pub id: Uuid,
    pub user_id: Uuid,
    pub origin: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = erasure_confirmations)]
pub struct Confirmation {
    pub erasure_id: Uuid,
    pub service: String,
    pub erased_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, request: &Request) -> QueryResult<()> {
    diesel::insert_into(erasure_requests::table)
        .values((
            erasure_requests::id.eq(request.id),
            erasure_requests::user_id.eq(request.user_id),
            erasure_requests::origin.eq(&request.origin),
            erasure_requests::requested_by.eq(&request.requested_by),
            erasure_requests::requested_at.eq(request.requested_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<(Request, Vec<Confirmation>)>> {
    let Some(request) = erasure_requests::table.find(id).select(Request::as_select()).first(conn).await.optional()?
    else {
        return Ok(None);
    };
    let confirmations = erasure_confirmations::table
        .filter(erasure_confirmations::erasure_id.eq(id))
        .select(Confirmation::as_select())
        .order(erasure_confirmations::service)
        .load(conn)
        .await?;
    Ok(Some((request, confirmations)))
}

/// Records `service`'s confirmation (once: a second one changes nothing) and marks the request
/// complete when every one of `services` has confirmed. False when the request is unknown.
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    erasure_id: Uuid,
    service: &str,
    erased_at: DateTime<Utc>,
    now: DateTime<Utc>,
    services: &[&str],
) -> QueryResult<bool> {
    // Locks the request: two confirmations arriving together cannot both miss the last one.
    let known: Option<Uuid> = erasure_requests::table
        .find(erasure_id)
        .select(erasure_requests::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if known.is_none() {
        return Ok(false);
    }
    diesel::insert_into(erasure_confirmations::table)
        .values((
            erasure_confirmations::erasure_id.eq(erasure_id),
            erasure_confirmations::service.eq(service),
            erasure_confirmations::erased_at.eq(erased_at),
            erasure_confirmations::received_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let confirmed: i64 = erasure_confirmations::table
        .filter(erasure_confirmations::erasure_id.eq(erasure_id))
        .filter(erasure_confirmations::service.eq_any(services))
        .count()
        .get_result(conn)
        .await?;
    if confirmed as usize >= services.len() {
        diesel::update(erasure_requests::table.find(erasure_id))
            .filter(erasure_requests::completed_at.is_null())
            .set(erasure_requests::completed_at.eq(now))
            .execute(conn)
            .await?;
    }
    Ok(true)
}
