//! Erasure, webhooks' part (issue 18, point 3; the protocol is `events::erasure`). Every stored
//! event whose payload names the user is scrubbed in place (`domain::scrub`: their id and personal
//! text become `[erased]`; the event's id, type and time stay, so the delivery log still reads
//! right), and the partners' answers to deliveries of those events are dropped (they may echo the
//! payload). Pending deliveries and later replays send the scrubbed payload: the dispatcher reads
//! the stored one at each attempt, and nothing sends the original again. The erasure protocol's
//! own events keep the id: they exist so that partners erase it too.
//!
//! The user's id is recorded in `erased_users` (an opaque id, as rewards keeps its requests), so an
//! event naming them that arrives later (other services' erasures publish some; an outbox replay
//! resends old ones) is stored already scrubbed by the consumer. A table lock orders the two: an
//! event is stored either before an erasure's scan (which then scrubs it) or after its commit
//! (and the consumer sees the erased id).

use crate::domain::scrub;
use crate::store::erasure as store;
use diesel_async::AsyncPgConnection;
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use platform::clock::SharedClock;
use uuid::Uuid;

pub struct WebhooksEraser {
    pub clock: SharedClock,
}

/// The erasure protocol's types, kept as they are (`scrub::is_erasure_protocol`).
fn exempt() -> Vec<&'static str> {
    events::catalog::erasure::TYPES.iter().chain(events::catalog::identity::TYPES).copied().collect()
}

/// Scrub every stored event naming `user`; the number of events changed.
pub async fn scrub_events(conn: &mut AsyncPgConnection, user: Uuid) -> Result<usize, HandlerError> {
    store::lock_for_erasure(conn).await?;
    let mut scrubbed = Vec::new();
    for (id, payload) in store::events_naming(conn, user, &exempt()).await? {
        // A payload that is not a JSON object cannot be scrubbed field by field: it goes whole.
        let clean = scrub::scrub(&payload, user).unwrap_or_else(|| scrub::MARKER.to_string());
        store::replace_payload(conn, id, &clean).await?;
        scrubbed.push(id);
    }
    store::drop_response_bodies(conn, &scrubbed).await?;
    Ok(scrubbed.len())
}

impl Eraser for WebhooksEraser {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let events = scrub_events(conn, user).await?;
            store::record_erased(conn, user, self.clock.now()).await?;
            tracing::info!(events, "webhooks: stored events naming an erased user scrubbed");
            Ok(())
        })
    }
}

/// `payload` of an event of `event_type` arriving now, without the people erased before it came.
pub async fn scrub_arriving(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    payload: String,
) -> Result<String, HandlerError> {
    if scrub::is_erasure_protocol(event_type) {
        return Ok(payload);
    }
    // Without the lock, an erasure committing between this read and the insert would miss
    // the event (its scan does not see uncommitted rows) and this read would miss the erasure.
    store::lock_for_storing(conn).await?;
    let mut payload = payload;
    for user in store::erased_among(conn, &scrub::uuids_in(&payload)).await? {
        if let Some(clean) = scrub::scrub(&payload, user) {
            payload = clean;
        }
    }
    Ok(payload)
}
