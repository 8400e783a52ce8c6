//! The idempotent consumer: bounded prefetch, manual ack after commit, an inbox row written in the
//! handler's transaction (a redelivered event has no second effect).
//!
//! Deliveries the broker has already pushed when one arrives are applied together, up to
//! [`MAX_BATCH`], in one transaction with their inbox rows: under load, events share a commit
//! instead of paying one each. A batch that fails as a whole is applied again one event per
//! transaction, so a failure stays the failing event's own.
//!
//! Failures are of two kinds. A transient one ([`HandlerError::Retry`], the database or its pool
//! failing) sends a copy of the message to a delayed-retry queue ([`crate::retry`]) and acks the
//! original only once the broker has confirmed the copy, so the event is never lost and the
//! handler sees it again after a growing delay, for as long as the policy's horizon (an hour by
//! default); then it is dead-lettered. A poison message ([`HandlerError::Reject`], a malformed
//! envelope) goes to the DLQ at once, after one delivery. Both kinds of dead letter carry the
//! reason in `x-dlq-*` headers ([`crate::dlq`]). The queue's `x-delivery-limit` stays as the last
//! net, for a message that keeps killing the consumer before it can decide anything.

use crate::broker::{connect_with_backoff, BrokerStatus, Shutdown};
use crate::dlq;
use crate::envelope::CloudEvent;
use crate::metrics::outcome;
use crate::outbox::inbox;
use crate::retry::{retry_headers, strip_broker_headers, RetryDecision, RetryPolicy, RetryState};
use crate::topology::Topology;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Confirmation};
use platform::db::{Pool, PreparedDsl};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The most deliveries one transaction applies together ([`gather`]). Bounded so that one
/// batch's row locks are held briefly and a failed batch costs little to redo one by one.
const MAX_BATCH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Transient (database hiccup, a peer briefly down, a precondition not met yet): retried with
    /// growing delays for the retry policy's horizon, then dead-lettered.
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

    /// Whether `event` can have any effect here. `false` settles it (acked, counted `ignored`)
    /// without a transaction or an inbox row: an event that changes nothing needs no record that it
    /// was seen. A queue bound by event type still receives events meant for other services (every
    /// payment reaches both marketplace and subscriptions); this spares the database a commit for
    /// each of those. Decide from the envelope alone, without IO; when in doubt, `true`.
    fn concerns(&self, _event: &CloudEvent) -> bool {
        true
    }

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
    /// The backoff schedule of transient failures.
    pub retry: RetryPolicy,
    pub metrics: crate::metrics::EventMetrics,
}

/// What happened to one delivery.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    /// Not this service's concern ([`EventHandler::concerns`]): nothing was written.
    Ignored,
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
            let (mut stream, out) = match this.start(&connection).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "consumer: setup failed, retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            this.status.set(true);
            let mut in_flight = tokio::task::JoinSet::new();
            let mut check = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = check.tick() => if !out.status().connected() {
                        // Without its publishing channel no failure can be handed over: start afresh.
                        tracing::warn!("consumer: publishing channel closed, reconnecting");
                        break;
                    },
                    _ = shutdown.changed() => {
                        // Finish what we hold (ack), let the broker requeue what we never started.
                        while in_flight.join_next().await.is_some() {}
                        let _ = connection.close(200, "shutdown".into()).await;
                        break 'connect;
                    }
                    Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                    next = stream.next() => match next {
                        Some(Ok(delivery)) => {
                            let (batch, broken) = gather(delivery, &mut stream);
                            let this = this.clone();
                            let out = out.clone();
                            in_flight.spawn(async move { this.process(batch, &out).await });
                            if broken {
                                tracing::warn!("consumer: broker failure while batching, reconnecting");
                                break;
                            }
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
            // Already gone after a broker failure; otherwise this hands unacked messages back.
            let _ = tokio::time::timeout(Duration::from_secs(2), connection.close(200, "reconnect".into())).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        this.status.set(false);
    }

    /// Declare the topology and start consuming; returns the deliveries and a channel with
    /// publisher confirms for the copies sent to the retry queues and the DLQ.
    async fn start(&self, connection: &lapin::Connection) -> lapin::Result<(lapin::Consumer, Channel)> {
        let channel = connection.create_channel().await?;
        let keys = self.handler.subscriptions();
        self.topology.declare_service_queue(&channel, &self.service, &keys).await?;
        self.topology.declare_retry_queues(&channel, &self.service, &self.retry).await?;
        let out = connection.create_channel().await?;
        out.confirm_select(ConfirmSelectOptions::default()).await?;
        channel.basic_qos(self.prefetch, BasicQosOptions::default()).await?;
        // Its own channel: a failed passive declare closes the channel it runs on.
        self.metrics.set_queue_channel(Some(connection.create_channel().await?));
        let stream = channel
            .basic_consume(
                self.topology.queue(&self.service).as_str().into(),
                format!("{}-{}", self.service, uuid::Uuid::new_v4()).as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((stream, out))
    }

    /// Settle a batch of deliveries. Those this service is concerned with go in one transaction
    /// ([`Self::apply_together`]) when there are several; if that fails, each is applied alone, so
    /// one event's failure is retried or dead-lettered by itself and the others commit.
    async fn process(&self, deliveries: Vec<Delivery>, out: &Channel) {
        let started = std::time::Instant::now();
        let mut together = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let Some(event) = self.parse(&delivery, out).await else { continue };
            // One span per event, made once: it covers the batch's handler call, the settling and,
            // after a split, the event's handling alone.
            let span = self.span(&event, &delivery);
            if self.handler.concerns(&event) {
                together.push(Received { event, delivery, span });
            } else {
                let received = Received { event, delivery, span };
                let counted = self.handle_event(&received, out).await;
                self.count(&received.event, counted, started);
            }
        }
        if together.len() > 1 {
            match self.apply_together(&together).await {
                Ok(outcomes) => {
                    self.metrics.batches.inc(&["together"]);
                    for (received, outcome) in together.iter().zip(outcomes) {
                        let Received { event, delivery, span } = received;
                        let counted = self.settle(Ok(outcome), event, delivery, out).instrument(span.clone()).await;
                        self.count(event, counted, started);
                    }
                    return;
                }
                Err(e) => {
                    self.metrics.batches.inc(&["split"]);
                    tracing::info!(
                        error = %e,
                        events = together.len(),
                        "consumer: a batch failed as a whole; applying its events one by one"
                    )
                }
            }
        }
        let alone = together.iter().map(|received| async move {
            let counted = self.handle_event(received, out).await;
            self.count(&received.event, counted, started);
        });
        futures_util::future::join_all(alone).await;
    }

    /// The delivery's envelope; a malformed one is dead-lettered (and counted) here.
    async fn parse(&self, delivery: &Delivery, out: &Channel) -> Option<CloudEvent> {
        match serde_json::from_slice(&delivery.data) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(error = %e, "consumer: malformed envelope, dead-lettering");
                self.dead_letter(out, delivery, dlq::Reason::Malformed, &e.to_string()).await;
                self.metrics.consumed.inc(&["malformed", outcome::DEAD_LETTERED]);
                None
            }
        }
    }

    /// Counted once settled, so a dashboard never shows an event as handled that came back.
    fn count(&self, event: &CloudEvent, counted: &'static str, started: std::time::Instant) {
        self.metrics.consumed.inc(&[&event.event_type, counted]);
        self.metrics.handler_duration.observe_since(&[&event.event_type], started);
    }

    /// The span of one event's handling, continuing the trace it was published in.
    fn span(&self, event: &CloudEvent, delivery: &Delivery) -> tracing::Span {
        let span = tracing::info_span!(
            "event.consume",
            otel.kind = "consumer",
            event.id = %event.id,
            event.type = %event.event_type,
            consumer = %self.service,
        );
        platform::telemetry::set_parent_from(&span, &trace_context(event, delivery));
        span
    }

    /// Apply, then ack, retry or dead-letter; returns the outcome to count.
    async fn handle_event(&self, received: &Received, out: &Channel) -> &'static str {
        let Received { event, delivery, span } = received;
        // One span for the handler and the settling: no guard is held across an await.
        async move { self.settle(self.apply(event).await, event, delivery, out).await }.instrument(span.clone()).await
    }

    async fn settle(
        &self,
        result: Result<Outcome, HandlerError>,
        event: &CloudEvent,
        delivery: &Delivery,
        out: &Channel,
    ) -> &'static str {
        match result {
            Ok(outcome) => {
                tracing::debug!(?outcome, "event handled");
                if outcome == Outcome::Applied {
                    self.handler.after_commit(event);
                }
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    // Committed already: the redelivery will hit the inbox and be acked then.
                    tracing::warn!(error = %e, "consumer: ack failed after commit");
                }
                match outcome {
                    Outcome::Applied => outcome::OK,
                    Outcome::Duplicate => outcome::DUPLICATE,
                    Outcome::Ignored => outcome::IGNORED,
                }
            }
            Err(HandlerError::Reject(reason)) => {
                tracing::error!(%reason, "consumer: event rejected, dead-lettering");
                self.dead_letter(out, delivery, dlq::Reason::Rejected, &reason).await;
                outcome::DEAD_LETTERED
            }
            Err(HandlerError::Retry(reason)) => self.retry_later(out, delivery, &reason).await,
        }
    }

    /// Park a copy in the retry queue of the next delay, or dead-letter it past the horizon.
    async fn retry_later(&self, out: &Channel, delivery: &Delivery, reason: &str) -> &'static str {
        let state = RetryState::from_headers(delivery.properties.headers().as_ref());
        match self.retry.decide(&state, chrono::Utc::now()) {
            RetryDecision::GiveUp => {
                tracing::error!(%reason, attempts = state.attempt, "consumer: retry horizon passed, dead-lettering");
                self.dead_letter(out, delivery, dlq::Reason::RetriesExhausted, reason).await;
                outcome::DEAD_LETTERED
            }
            RetryDecision::RetryIn { attempt, delay, first_failed_at } => {
                tracing::warn!(
                    %reason,
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    redeliveries = delivery_count(delivery),
                    "consumer: handler failed, will retry"
                );
                let headers = retry_headers(delivery.properties.headers().as_ref(), attempt, first_failed_at, reason);
                let queue = self.topology.retry_queue(&self.service, delay);
                if !hand_over(out, delivery, &queue, headers).await {
                    // The copy was not confirmed: keep the original. Requeued, it counts towards
                    // the queue's delivery limit, the net for a broker that keeps refusing.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let _ = delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await;
                }
                outcome::RETRIED
            }
        }
    }

    /// Move the message to the DLQ with the reason in its headers; if that copy cannot be
    /// confirmed, reject it so the broker dead-letters it itself (without our headers).
    async fn dead_letter(&self, out: &Channel, delivery: &Delivery, reason: dlq::Reason, detail: &str) {
        let mut headers = strip_broker_headers(delivery.properties.headers().as_ref());
        dlq::mark(&mut headers, reason, detail);
        let queue = self.topology.dead_letter_queue(&self.service);
        if !hand_over(out, delivery, &queue, headers).await {
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
        }
    }

    /// The inbox row and the handler's effect in one transaction.
    async fn apply(&self, event: &CloudEvent) -> Result<Outcome, HandlerError> {
        if !self.handler.concerns(event) {
            return Ok(Outcome::Ignored);
        }
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

/// A parsed delivery and the span its handling is traced in.
struct Received {
    event: CloudEvent,
    delivery: Delivery,
    span: tracing::Span,
}

impl Consumer {
    /// The events of `batch` (all this service's concern) in one transaction: one inbox statement
    /// for all of them, then each new event's handler in turn, then one commit. That shares the
    /// transaction's round trips and its commit (a WAL flush) between the events the broker had
    /// already pushed. Any failure rolls the whole batch back and is returned: the caller applies
    /// each event alone then ([`Self::apply`]), which gives each its own retry or dead letter.
    async fn apply_together(&self, batch: &[Received]) -> Result<Vec<Outcome>, HandlerError> {
        let mut conn = self.pool.get().await?;
        let handler = self.handler.clone();
        let consumer = self.service.clone();
        AsyncConnection::transaction(&mut *conn, async move |conn: &mut AsyncPgConnection| {
            let rows: Vec<_> = batch
                .iter()
                .map(|Received { event, .. }| {
                    (
                        inbox::event_id.eq(event.id),
                        inbox::consumer.eq(consumer.as_str()),
                        inbox::event_type.eq(event.event_type.as_str()),
                    )
                })
                .collect();
            // One event delivered twice in one batch is inserted once: the second copy conflicts
            // with the first and counts as a duplicate below.
            let mut new: std::collections::HashSet<uuid::Uuid> = diesel::insert_into(inbox::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .returning(inbox::event_id)
                .prepared() // one statement per batch size, at most MAX_BATCH of them
                .get_results(conn)
                .await?
                .into_iter()
                .collect();
            let mut outcomes = Vec::with_capacity(batch.len());
            for Received { event, span, .. } in batch {
                if new.remove(&event.id) {
                    handler.handle(conn, event).instrument(span.clone()).await?;
                    outcomes.push(Outcome::Applied);
                } else {
                    outcomes.push(Outcome::Duplicate);
                }
            }
            Ok(outcomes)
        })
        .await
    }
}

/// `first` and the deliveries the broker has already pushed behind it, up to [`MAX_BATCH`]: a
/// batch that one transaction applies. Nothing waits for more: a delivery that comes alone is a
/// batch of one. `true` when the stream failed or ended meanwhile (the caller hands the batch over,
/// then reconnects; a delivery of a dead channel cannot be acked, so it comes back).
fn gather(first: Delivery, stream: &mut lapin::Consumer) -> (Vec<Delivery>, bool) {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match stream.next().now_or_never() {
            Some(Some(Ok(delivery))) => batch.push(delivery),
            Some(Some(Err(e))) => {
                tracing::warn!(error = %e, "consumer: broker failure");
                return (batch, true);
            }
            Some(None) => return (batch, true),
            None => break,
        }
    }
    (batch, false)
}

/// Publish a copy of `delivery` with `headers` straight to `queue` (default exchange), and ack the
/// original once the broker has confirmed the copy. `false` when the copy was not confirmed (the
/// original is then still ours to settle).
async fn hand_over(out: &Channel, delivery: &Delivery, queue: &str, headers: FieldTable) -> bool {
    let properties = delivery.properties.clone().with_headers(headers).with_delivery_mode(2);
    let confirm = match out
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions { mandatory: true, ..Default::default() },
            &delivery.data,
            properties,
        )
        .await
    {
        Ok(c) => c.await,
        Err(e) => Err(e),
    };
    match confirm {
        Ok(Confirmation::Ack(None)) => {
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                // The copy is safe; the original comes back and the inbox absorbs the duplicate.
                tracing::warn!(error = %e, queue, "consumer: ack after hand-over failed");
            }
            true
        }
        Ok(Confirmation::Ack(Some(_))) => {
            tracing::error!(queue, "consumer: hand-over returned unroutable (queue missing?)");
            false
        }
        Ok(other) => {
            tracing::error!(queue, confirmation = ?other, "consumer: hand-over not confirmed");
            false
        }
        Err(e) => {
            tracing::error!(queue, error = %e, "consumer: hand-over failed");
            false
        }
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

/// The trace the event continues: the relay's publish span from the AMQP headers, or the
/// envelope's context for a message published without them (by hand, by an older relay).
fn trace_context(event: &CloudEvent, delivery: &Delivery) -> platform::telemetry::TraceContext {
    let from_headers = crate::trace_headers::extract(delivery.properties.headers().as_ref());
    if from_headers.traceparent.is_some() {
        return from_headers;
    }
    platform::telemetry::TraceContext::new(event.traceparent.as_deref(), event.tracestate.as_deref())
}
