//! The idempotent consumer: bounded prefetch, manual ack after commit, an inbox row written in the
//! handler's transaction (a redelivered event has no second effect), retries with backoff, and
//! dead-lettering after the queue's delivery limit.

use crate::broker::{connect_with_backoff, BrokerStatus, Shutdown};
use crate::envelope::CloudEvent;
use crate::outbox::inbox;
use crate::topology::Topology;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable};
use platform::db::Pool;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Transient (database hiccup, a peer briefly down): retried with backoff, then dead-lettered.
    #[error("retryable: {0}")]
    Retry(String),
    /// The event can never be applied (malformed payload): dead-lettered at once.
    #[error("rejected: {0}")]
    Reject(String),
}

impl From<diesel::result::Error> for HandlerError {
    fn from(e: diesel::result::Error) -> Self {
        HandlerError::Retry(e.to_string())
    }
}

impl From<platform::db::PoolError> for HandlerError {
    fn from(e: platform::db::PoolError) -> Self {
        HandlerError::Retry(e.to_string())
    }
}

/// A service's event handlers. `handle` runs inside the transaction that also writes the inbox row.
pub trait EventHandler: Send + Sync + 'static {
    /// Routing keys (event types) this service subscribes to.
    fn subscriptions(&self) -> Vec<&'static str>;

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Called once the handler's transaction has committed (not for duplicates): the place to
    /// drop in-process caches, which must not be refilled from the pre-commit state.
    fn after_commit(&self, _event: &CloudEvent) {}
}

pub struct Consumer {
    pub pool: Pool,
    pub amqp_url: String,
    pub topology: Topology,
    pub service: String,
    pub prefetch: u16,
    pub handler: Arc<dyn EventHandler>,
    pub status: BrokerStatus,
}

/// What happened to one delivery.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
}

impl Consumer {
    pub fn spawn(self, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, mut shutdown: Shutdown) {
        let this = Arc::new(self);
        let name = format!("{}-consumer", this.service);
        'connect: loop {
            let Some(connection) = connect_with_backoff(&this.amqp_url, &name, &mut shutdown).await else {
                break;
            };
            let mut stream = match this.start(&connection).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "consumer: setup failed, retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            this.status.set(true);
            let mut in_flight = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = shutdown.changed() => {
                        // Finish what we hold (ack), let the broker requeue what we never started.
                        while in_flight.join_next().await.is_some() {}
                        let _ = connection.close(200, "shutdown".into()).await;
                        break 'connect;
                    }
                    Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                    next = stream.next() => match next {
                        Some(Ok(delivery)) => {
                            let this = this.clone();
                            in_flight.spawn(async move { this.process(delivery).await });
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "consumer: broker failure, reconnecting");
                            break;
                        }
                        None => break,
                    }
                }
            }
            this.status.set(false);
            while in_flight.join_next().await.is_some() {}
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        this.status.set(false);
    }

    async fn start(&self, connection: &lapin::Connection) -> lapin::Result<lapin::Consumer> {
        let channel = connection.create_channel().await?;
        let keys = self.handler.subscriptions();
        self.topology.declare_service_queue(&channel, &self.service, &keys).await?;
        channel.basic_qos(self.prefetch, BasicQosOptions::default()).await?;
        channel
            .basic_consume(
                self.topology.queue(&self.service).as_str().into(),
                format!("{}-{}", self.service, uuid::Uuid::new_v4()).as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    async fn process(&self, delivery: Delivery) {
        let event: CloudEvent = match serde_json::from_slice(&delivery.data) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "consumer: malformed envelope, dead-lettering");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                return;
            }
        };
        let span = tracing::info_span!(
            "event.consume",
            otel.kind = "consumer",
            event.id = %event.id,
            event.type = %event.event_type,
            consumer = %self.service,
        );
        platform::telemetry::set_parent_from(&span, event.traceparent.as_deref());
        let result = self.apply(&event).instrument(span.clone()).await;
        let _enter = span.enter();
        match result {
            Ok(outcome) => {
                tracing::debug!(?outcome, "event handled");
                if outcome == Outcome::Applied {
                    self.handler.after_commit(&event);
                }
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    // Committed already: the redelivery will hit the inbox and be acked then.
                    tracing::warn!(error = %e, "consumer: ack failed after commit");
                }
            }
            Err(HandlerError::Reject(reason)) => {
                tracing::error!(%reason, "consumer: event rejected, dead-lettering");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            }
            Err(HandlerError::Retry(reason)) => {
                let attempt = delivery_count(&delivery);
                tracing::warn!(%reason, attempt, "consumer: handler failed, will retry");
                // Backoff before handing it back; after the delivery limit the broker dead-letters it.
                let delay =
                    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(3));
                tokio::time::sleep(delay).await;
                let _ = delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await;
            }
        }
    }

    /// The inbox row and the handler's effect in one transaction.
    async fn apply(&self, event: &CloudEvent) -> Result<Outcome, HandlerError> {
        let mut conn = self.pool.get().await?;
        let handler = self.handler.clone();
        let consumer = self.service.clone();
        AsyncConnection::transaction(&mut *conn, async move |conn: &mut AsyncPgConnection| {
            let inserted = diesel::insert_into(inbox::table)
                .values((
                    inbox::event_id.eq(event.id),
                    inbox::consumer.eq(&consumer),
                    inbox::event_type.eq(&event.event_type),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok(Outcome::Duplicate);
            }
            handler.handle(conn, event).await?;
            Ok(Outcome::Applied)
        })
        .await
    }
}

fn delivery_count(delivery: &Delivery) -> u32 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned())
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(n as u32),
            AMQPValue::LongInt(n) => Some(n as u32),
            AMQPValue::ShortInt(n) => Some(n as u32),
            _ => None,
        })
        .unwrap_or(0)
}
