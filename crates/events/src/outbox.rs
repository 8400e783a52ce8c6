//! The outbox writer: called with the caller's open transaction, so the state change and its
//! event commit (or roll back) together.

use crate::catalog::DomainEvent;
use crate::envelope::CloudEvent;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

diesel::table! {
    outbox (seq) {
        seq -> BigInt,
        event_id -> Uuid,
        event_type -> Text,
        envelope -> Text,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        unroutable -> Bool,
    }
}

diesel::table! {
    inbox (event_id, consumer) {
        event_id -> Uuid,
        consumer -> Text,
        event_type -> Text,
        processed_at -> Timestamptz,
    }
}

/// The envelope of `event` and its text as the outbox row keeps it. [`enqueue`] writes it; a
/// one-statement write (a SQL function doing the whole change) takes it as a parameter and inserts
/// the row itself.
pub fn envelope<E: DomainEvent>(event: &E) -> Result<(CloudEvent, String), diesel::result::Error> {
    let envelope = cloud_event(event)?;
    let text = serde_json::to_string(&envelope).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    Ok((envelope, text))
}

/// The envelope of `event`, in the current trace.
pub fn cloud_event<E: DomainEvent>(event: &E) -> Result<CloudEvent, diesel::result::Error> {
    // The trace of the change travels with its event: the relay hands it to the broker in the
    // AMQP headers and each consumer continues it.
    Ok(CloudEvent::new(event, None)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?
        .in_trace(platform::telemetry::TraceContext::current()))
}

/// Append `event` to the outbox inside `conn`'s current transaction. Returns the envelope written.
/// Takes the connection shared, so a caller may pipeline it with other writes of the same
/// transaction (`futures_util::try_join!`: one round trip for all of them).
pub async fn enqueue<E: DomainEvent>(
    mut conn: &AsyncPgConnection,
    event: &E,
) -> Result<CloudEvent, diesel::result::Error> {
    let (envelope, text) = self::envelope(event)?;
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(envelope.id),
            outbox::event_type.eq(&envelope.event_type),
            outbox::envelope.eq(text),
        ))
        .execute(&mut conn)
        .await?;
    Ok(envelope)
}
