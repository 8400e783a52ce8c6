//! The consumer: every event of the bus (the queue is bound to `#`) is kept once, and one
//! delivery per enabled endpoint that wants its type is created, in the transaction of the inbox
//! row, so a redelivered event creates nothing twice. The dispatcher sends them. The erasure
//! request is handled first by `crate::erasure` (`events::erasure::with_erasure`), then kept and
//! delivered like any other event.

use crate::domain::patterns;
use crate::domain::schedule::Schedule;
use crate::store::{deliveries, endpoints};
use diesel_async::AsyncPgConnection;
use events::{CloudEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use platform::clock::SharedClock;

pub struct Handlers {
    pub clock: SharedClock,
    pub schedule: Schedule,
    pub metrics: crate::metrics::Metrics,
}

impl EventHandler for Handlers {
    fn subscriptions(&self) -> Vec<&'static str> {
        // A topic-exchange wildcard: every routing key, the event types added later included.
        vec!["#"]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = self.clock.now();
            let payload = serde_json::to_string(event).map_err(|e| HandlerError::Reject(e.to_string()))?;
            // An event about someone erased before it came is kept (and delivered) scrubbed.
            let payload = crate::erasure::scrub_arriving(conn, &event.event_type, payload).await?;
            deliveries::store_event(conn, event.id, &event.event_type, &payload, now).await?;
            let first = now
                + chrono::Duration::from_std(self.schedule.next_delay(0, 0.0).unwrap_or_default()).unwrap_or_default();
            let mut created = 0;
            for endpoint in endpoints::enabled(conn).await? {
                if patterns::matches(&endpoint.event_types, &event.event_type) {
                    deliveries::insert(conn, event.id, &event.event_type, endpoint.id, first).await?;
                    created += 1;
                }
            }
            if created > 0 {
                self.metrics.created.inc_by(&[], created);
            }
            Ok(())
        })
    }
}
