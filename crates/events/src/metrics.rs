//! The events families: outbox backlog and publish outcomes (relay), messages handled by type
//! and outcome with handler duration (consumer), and the depth of the service's queue and DLQ.
//!
//! Label values are event types (the catalog, bounded) and fixed outcome words.

use crate::outbox::outbox;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::Channel;
use platform::db::Pool;
use platform::metrics::{CounterVec, HistogramVec, Metrics};
use std::sync::{Arc, Mutex};

/// Outcomes of one delivery, as counted.
pub mod outcome {
    pub const OK: &str = "ok";
    pub const DUPLICATE: &str = "duplicate";
    /// Acked unread: not the consuming service's concern (`EventHandler::concerns`).
    pub const IGNORED: &str = "ignored";
    pub const RETRIED: &str = "retried";
    pub const DEAD_LETTERED: &str = "dead_lettered";
}

#[derive(Clone)]
pub struct EventMetrics {
    /// Relay outcomes per event type: `confirmed`, `unroutable`, `failed`.
    pub published: CounterVec,
    /// Deliveries handled, by event type and [`outcome`].
    pub consumed: CounterVec,
    pub handler_duration: HistogramVec,
    /// Batches of several deliveries: `together` (one transaction applied them all) or `split`
    /// (it failed, and each was applied in a transaction of its own).
    pub batches: CounterVec,
    /// A channel of the consumer's connection, for passive declares at scrape time.
    queue_channel: Arc<Mutex<Option<Channel>>>,
}

impl EventMetrics {
    pub fn new(metrics: &Metrics) -> Self {
        Self {
            published: metrics.counter(
                "monetization_outbox_published",
                "Outbox rows handed to the broker, by event type and result (confirmed, unroutable, failed)",
                &["event_type", "result"],
            ),
            consumed: metrics.counter(
                "monetization_events_consumed",
                "Event deliveries handled, by event type and outcome (ok, duplicate, ignored, retried, dead_lettered)",
                &["event_type", "outcome"],
            ),
            handler_duration: metrics.histogram(
                "monetization_event_handler_duration_seconds",
                "Time from delivery to settled (handler transaction included), by event type",
                &["event_type"],
            ),
            batches: metrics.counter(
                "monetization_event_batches",
                "Consumer batches of several deliveries, by result (together: one transaction; split: failed, then one transaction each)",
                &["result"],
            ),
            queue_channel: Arc::default(),
        }
    }

    /// Metrics that go nowhere (tests and tools that start a relay or consumer on their own).
    pub fn detached() -> Self {
        Self::new(&Metrics::new())
    }

    pub(crate) fn set_queue_channel(&self, channel: Option<Channel>) {
        *self.queue_channel.lock().unwrap_or_else(|e| e.into_inner()) = channel;
    }

    /// Report the message count of `queues` (the service's queue and its DLQ) at each scrape,
    /// through a passive declare on the consumer's connection.
    pub fn watch_queues(&self, metrics: &Metrics, queues: Vec<(&'static str, String)>) {
        let depth = metrics.gauge(
            "monetization_queue_messages",
            "Messages ready in the service's queue (kind=queue) and its dead-letter queue (kind=dlq)",
            &["kind"],
        );
        let slot = self.queue_channel.clone();
        metrics.on_scrape(move || {
            let channel = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let depth = depth.clone();
            let queues = queues.clone();
            Box::pin(async move {
                let Some(channel) = channel.filter(|c| c.status().connected()) else { return };
                for (kind, queue) in queues {
                    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
                    match channel.queue_declare(queue.as_str().into(), passive, FieldTable::default()).await {
                        Ok(q) => depth.set(&[kind], f64::from(q.message_count())),
                        Err(e) => tracing::debug!(error = %e, queue, "metrics: queue depth unavailable"),
                    }
                }
            })
        });
    }
}

/// Outbox backlog at each scrape: rows not yet published and the age of the oldest (one count
/// over the partial index `outbox_pending`, which holds only unpublished rows). Unroutable
/// events are counted by the relay as they happen (`result="unroutable"`).
pub fn watch_outbox(metrics: &Metrics, pool: Pool) {
    let pending = metrics.gauge("monetization_outbox_pending", "Outbox rows not yet published", &[]);
    let oldest = metrics.gauge(
        "monetization_outbox_oldest_pending_age_seconds",
        "Age of the oldest unpublished outbox row (0 when none)",
        &[],
    );
    metrics.on_scrape(move || {
        let (pool, pending, oldest) = (pool.clone(), pending.clone(), oldest.clone());
        Box::pin(async move {
            let Ok(mut conn) = pool.get().await else { return };
            let backlog: QueryResult<(i64, Option<f64>)> = outbox::table
                .filter(outbox::published_at.is_null())
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Double>>(
                        "extract(epoch from now() - min(created_at))::float8",
                    ),
                ))
                .get_result(&mut conn)
                .await;
            if let Ok((count, age)) = backlog {
                pending.set(&[], count as f64);
                oldest.set(&[], age.unwrap_or(0.0).max(0.0));
            }
        })
    });
}
