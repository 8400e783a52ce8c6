//! The outbox relay: publishes pending outbox rows in order, with publisher confirms and
//! `mandatory`, and marks them sent only after the broker confirmed them. Rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so relays on several replicas never publish the same row in the
//! normal case; after a crash between confirm and commit a row is published again, which the
//! consumers' inbox absorbs (at-least-once).
//!
//! The relay does not poll on a short timer: a trigger on the outbox sends `NOTIFY outbox_<schema>`
//! when an insert commits, and a listener on a connection of its own (`platform::listen`) wakes
//! the relay at once. A slow fallback poll covers a listener that is reconnecting.
//!
//! The trigger notifies only when no other row is pending ahead of the new ones (every NOTIFY
//! serialises commits database-wide; see the migration `2026-12-11-200003_outbox_notify_when_idle`):
//! a row committed while the relay is busy relies on the relay looking again. So after publishing a
//! batch the relay polls again at once and, once the outbox looks empty, keeps polling every
//! [`BUSY_TAIL_INTERVAL`] for [`BUSY_TAIL_POLLS`] more times before it waits for a notification:
//! a writer that saw a pending row and skipped its notification commits within that tail.

use crate::broker::{connect_with_backoff, BrokerStatus, Shutdown};
use crate::envelope::CONTENT_TYPE;
use crate::outbox::outbox;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel};
use platform::db::{Pool, PreparedDsl};
use platform::telemetry::TraceContext;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

/// After a batch was published, how many extra polls, this far apart, before the relay waits for a
/// notification (200 ms in all: a commit under load can take that long).
pub const BUSY_TAIL_POLLS: u32 = 40;
pub const BUSY_TAIL_INTERVAL: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Relay {
    pub pool: Pool,
    pub amqp_url: String,
    pub exchange: String,
    pub service: String,
    /// How often to look for new rows when no notification came: bounds the lag only while the
    /// listener is down (a notification normally wakes the relay within a millisecond).
    pub fallback_poll: Duration,
    pub batch_size: i64,
    pub status: BrokerStatus,
    metrics: crate::metrics::EventMetrics,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] platform::db::PoolError),
    #[error("broker: {0}")]
    Broker(String),
}

/// The envelope's trace context, read without parsing the payload.
#[derive(serde::Deserialize)]
struct TraceOnly {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Relay {
    pub fn new(pool: Pool, amqp_url: &str, exchange: &str, service: &str, status: BrokerStatus) -> Self {
        Self {
            pool,
            amqp_url: amqp_url.into(),
            exchange: exchange.into(),
            service: service.into(),
            // Short since the trigger skips notifications while rows are pending: a writer that
            // skipped and committed after the busy tail is found within this (an indexed probe of
            // the pending rows, four times a second when idle).
            fallback_poll: Duration::from_millis(250),
            batch_size: 200,
            status,
            metrics: crate::metrics::EventMetrics::detached(),
        }
    }

    /// Count publish outcomes into the service's registry.
    pub fn with_metrics(mut self, metrics: crate::metrics::EventMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn spawn(self, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, mut shutdown: Shutdown) {
        let name = format!("{}-outbox-relay", self.service);
        let wake = Arc::new(Notify::new());
        platform::listen::spawn(self.pool.clone(), "outbox", Arc::new(Wake(wake.clone())), shutdown.clone());
        'connect: loop {
            let Some(connection) = connect_with_backoff(&self.amqp_url, &name, &mut shutdown).await else {
                break;
            };
            let channel = match self.open_channel(&connection).await {
                Ok(ch) => ch,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay: channel setup failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            self.status.set(true);
            let mut tail = 0;
            loop {
                if *shutdown.borrow() {
                    // The server has stopped before this signal: publish what its last requests
                    // committed now rather than at the next start (the caller bounds the time).
                    self.flush(&channel).await;
                    let _ = connection.close(200, "shutdown".into()).await;
                    break 'connect;
                }
                match self.publish_batch(&channel).await {
                    Ok(0) if tail > 0 => {
                        tail -= 1;
                        tokio::select! {
                            _ = tokio::time::sleep(BUSY_TAIL_INTERVAL) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                    Ok(0) => {
                        tokio::select! {
                            _ = wake.notified() => {}
                            _ = tokio::time::sleep(self.fallback_poll) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                    Ok(n) => {
                        tail = BUSY_TAIL_POLLS;
                        tracing::debug!(published = n, "outbox relay: batch published");
                    }
                    Err(RelayError::Broker(e)) => {
                        tracing::warn!(error = %e, "outbox relay: broker failure, reconnecting");
                        self.status.set(false);
                        let _ = connection.close(200, "reconnect".into()).await;
                        continue 'connect;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay: database failure, retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
        self.status.set(false);
    }

    /// Publish until the outbox is empty or publishing fails (the rows then wait for the next start).
    async fn flush(&self, channel: &Channel) {
        loop {
            match self.publish_batch(channel).await {
                Ok(0) => return,
                Ok(n) => tracing::debug!(published = n, "outbox relay: flushed a batch at shutdown"),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay: flush at shutdown failed; rows stay for the next start");
                    return;
                }
            }
        }
    }

    async fn open_channel(&self, connection: &lapin::Connection) -> lapin::Result<Channel> {
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        crate::topology::Topology::new(&self.exchange, "").declare_exchanges(&channel).await?;
        Ok(channel)
    }

    /// Publish up to one batch; returns how many rows were sent.
    async fn publish_batch(&self, channel: &Channel) -> Result<usize, RelayError> {
        let mut conn = self.pool.get().await?;
        // Most polls find nothing (the busy tail polls every 5 ms): one autocommit probe of the
        // pending index answers them, instead of a transaction's three round trips. A row it sees
        // that another replica has claimed meanwhile is skipped by the claim below.
        let pending: Option<i64> = outbox::table
            .filter(outbox::published_at.is_null())
            .select(outbox::seq)
            .first(&mut *conn)
            .await
            .optional()?;
        if pending.is_none() {
            return Ok(0);
        }
        let exchange = self.exchange.clone();
        let batch = self.batch_size;
        let metrics = self.metrics.published.clone();
        let failures = metrics.clone();
        let result = AsyncConnection::transaction(&mut *conn, async move |conn: &mut AsyncPgConnection| {
            let rows: Vec<(i64, Uuid, String, String)> = outbox::table
                .filter(outbox::published_at.is_null())
                .order(outbox::seq)
                .limit(batch)
                .for_update()
                .skip_locked()
                .select((outbox::seq, outbox::event_id, outbox::event_type, outbox::envelope))
                .load(conn)
                .await?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let mut confirms = Vec::with_capacity(rows.len());
            for (seq, id, event_type, envelope) in &rows {
                // Lasts until the broker confirmed the message; the consumers' spans are its children.
                let span = publish_span(&exchange, id, event_type, envelope);
                let confirm = channel
                    .basic_publish(
                        exchange.as_str().into(),
                        event_type.as_str().into(),
                        BasicPublishOptions { mandatory: true, ..Default::default() },
                        envelope.as_bytes(),
                        properties(id, event_type, &span),
                    )
                    .instrument(span.clone())
                    .await
                    .map_err(|e| RelayError::Broker(e.to_string()))?;
                confirms.push((*seq, confirm, span));
            }
            let mut unroutable = Vec::new();
            for (seq, confirm, _span) in confirms {
                match confirm.await.map_err(|e| RelayError::Broker(e.to_string()))? {
                    Confirmation::Ack(None) => {}
                    Confirmation::Ack(Some(_returned)) => unroutable.push(seq),
                    Confirmation::Nack(_) => {
                        failures.inc(&[event_type_of(&rows, seq), "failed"]);
                        return Err(RelayError::Broker(format!("broker nacked outbox row {seq}")));
                    }
                    Confirmation::NotRequested => return Err(RelayError::Broker("confirms not enabled".into())),
                }
            }
            let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
            diesel::update(outbox::table.filter(outbox::seq.eq_any(&seqs)))
                .set(outbox::published_at.eq(diesel::dsl::now))
                .prepared()
                .execute(conn)
                .await?;
            if !unroutable.is_empty() {
                // Noticed, not dropped: the row stays flagged for operators and the log says so.
                tracing::warn!(rows = ?unroutable, "outbox relay: events had no queue bound to their routing key");
                diesel::update(outbox::table.filter(outbox::seq.eq_any(&unroutable)))
                    .set(outbox::unroutable.eq(true))
                    .execute(conn)
                    .await?;
            }
            Ok(rows.iter().map(|(seq, _, event_type, _)| (event_type.clone(), unroutable.contains(seq))).collect())
        })
        .await;
        // Counted after the commit: a batch rolled back is published again, and counted then.
        result.map(|sent: Vec<(String, bool)>| {
            for (event_type, unroutable) in &sent {
                metrics.inc(&[event_type, if *unroutable { "unroutable" } else { "confirmed" }]);
            }
            sent.len()
        })
    }
}

fn event_type_of(rows: &[(i64, Uuid, String, String)], seq: i64) -> &str {
    rows.iter().find(|r| r.0 == seq).map(|r| r.2.as_str()).unwrap_or("unknown")
}

/// Wakes the relay on each `NOTIFY outbox_<schema>`, and when listening (re)starts (rows
/// committed while nobody listened); while the listener is down the relay polls.
struct Wake(Arc<Notify>);

impl platform::listen::Subscriber for Wake {
    fn listening(&self) {
        self.0.notify_one();
    }

    fn notified(&self, _payload: &str) {
        self.0.notify_one();
    }

    fn lost(&self, error: &str) {
        tracing::warn!(error, "outbox relay: listener failed, polling until it reconnects");
    }
}

/// The producer span of one outbox row: a child of the trace the row was written in (the
/// envelope's `traceparent`), so a purchase's trace goes on through the broker.
fn publish_span(exchange: &str, id: &Uuid, event_type: &str, envelope: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "event.publish",
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.destination.name = %exchange,
        messaging.message.id = %id,
        event.type = %event_type,
    );
    if let Ok(TraceOnly { traceparent, tracestate }) = serde_json::from_str::<TraceOnly>(envelope) {
        platform::telemetry::set_parent_from(&span, &TraceContext { traceparent, tracestate });
    }
    span
}

fn properties(id: &Uuid, event_type: &str, publish: &tracing::Span) -> BasicProperties {
    let mut headers = FieldTable::default();
    crate::trace_headers::inject(&mut headers, &TraceContext::of(publish));
    BasicProperties::default()
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(id.to_string().into())
        .with_type(event_type.into())
        .with_delivery_mode(2)
        .with_timestamp(chrono::Utc::now().timestamp() as u64)
        .with_headers(headers)
}
