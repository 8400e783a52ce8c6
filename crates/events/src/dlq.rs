//! The dead-letter queue of a consuming service: why a message is there (headers the consumer
//! writes), and the operator's tools, `list` (counts by event type and reason) and `replay` (move
//! messages back to the service's own queue, never to the topic exchange, which would deliver
//! them to every other subscriber again).
//!
//! Replay is safe to repeat: a message leaves the DLQ only after the broker confirmed its copy in
//! the service's queue, and the consumer's inbox absorbs an event that was applied already.

use crate::retry::{as_i64, strip_broker_headers, truncate, ATTEMPT_HEADER, FIRST_FAILURE_HEADER, LAST_ERROR_HEADER};
use crate::topology::Topology;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties};
use std::collections::BTreeMap;

/// Header: why the consumer dead-lettered the message ([`Reason`]).
pub const REASON_HEADER: &str = "x-dlq-reason";
/// Header: the handler's or parser's error (truncated).
pub const ERROR_HEADER: &str = "x-dlq-error";
/// Header: when it was dead-lettered (ms since the epoch).
pub const AT_HEADER: &str = "x-dlq-at";
/// Header: how many times it has been replayed from the DLQ.
pub const REPLAYS_HEADER: &str = "x-dlq-replays";

/// Why a message is in the DLQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not a CloudEvents envelope.
    Malformed,
    /// The handler said it can never apply it (`HandlerError::Reject`).
    Rejected,
    /// Transient failures for longer than the retry horizon.
    RetriesExhausted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Rejected => "rejected",
            Reason::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// Record `reason` and `detail` in the headers of a message about to go to the DLQ.
pub fn mark(headers: &mut FieldTable, reason: Reason, detail: &str) {
    headers.insert(REASON_HEADER.into(), AMQPValue::LongString(reason.as_str().into()));
    headers.insert(ERROR_HEADER.into(), AMQPValue::LongString(truncate(detail).into()));
    headers.insert(AT_HEADER.into(), AMQPValue::LongLongInt(chrono::Utc::now().timestamp_millis()));
}

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("queue {0} does not exist (does this service consume events?)")]
    NoQueue(String),
    #[error("the broker did not confirm the copy of a message in {0}; it was left in the DLQ")]
    NotConfirmed(String),
}

/// Which messages `replay` moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFilter {
    /// Only events of this type (e.g. `billing.payment.succeeded.v1`).
    pub event_type: Option<String>,
    /// At most this many.
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Moved back to the service's queue.
    pub moved: u64,
    /// Still in the DLQ afterwards.
    pub left: u64,
}

/// Messages in the DLQ by (event type, reason).
pub type Listing = BTreeMap<(String, String), u64>;

/// Count the DLQ's messages by event type and reason, leaving them all in place.
pub async fn list(amqp_url: &str, topology: &Topology, service: &str) -> Result<Listing, DlqError> {
    let session = Session::open(amqp_url, topology, service).await?;
    let mut counts = Listing::new();
    for _ in 0..session.depth().await? {
        let Some(d) = session.get().await? else { break };
        *counts.entry((event_type(&d), reason(&d))).or_default() += 1;
    }
    // Everything read is still unacked: closing the session hands it all back.
    session.close().await;
    Ok(counts)
}

/// Move the DLQ's messages matching `filter` to the service's own queue, each removed from the
/// DLQ only once the broker has confirmed its copy. Looks at each message present when it starts
/// at most once; what does not match stays, in place.
pub async fn replay(
    amqp_url: &str,
    topology: &Topology,
    service: &str,
    filter: &ReplayFilter,
) -> Result<ReplayReport, DlqError> {
    let session = Session::open(amqp_url, topology, service).await?;
    let target = topology.queue(service);
    let mut moved = 0;
    // Non-matching messages stay unacked, so the scan does not see them again, and go back when
    // the session closes. Closing rather than a nack-requeue, which counts as a failed delivery
    // towards a quorum queue's delivery limit (RabbitMQ 4 sets one by default, and a DLQ has
    // nowhere further to send a message).
    let mut held = 0;
    let mut outcome = Ok(());
    for _ in 0..session.depth().await? {
        if filter.limit.is_some_and(|limit| moved >= limit) {
            break;
        }
        let Some(d) = session.get().await? else { break };
        if filter.event_type.as_ref().is_some_and(|t| *t != event_type(&d)) {
            held += 1;
            continue;
        }
        match session.copy_to(&target, &d).await {
            Ok(()) => {
                d.ack(BasicAckOptions::default()).await?;
                moved += 1;
            }
            Err(e) => {
                held += 1;
                outcome = Err(e);
                break;
            }
        }
    }
    // Counted while this session still holds the skipped ones.
    let left = session.depth().await? + held;
    session.close().await;
    outcome.map(|()| ReplayReport { moved, left })
}

/// A connection with one channel reading the DLQ and one publishing with confirms.
struct Session {
    conn: Connection,
    read: Channel,
    write: Channel,
    dlq: String,
}

impl Session {
    async fn open(amqp_url: &str, topology: &Topology, service: &str) -> Result<Self, DlqError> {
        let props = ConnectionProperties::default().with_connection_name(format!("{service}-dlq-tool").into());
        let conn = crate::broker::connect(amqp_url, props).await?;
        let dlq = topology.dead_letter_queue(service);
        for queue in [topology.queue(service), dlq.clone()] {
            // A passive declare on a missing queue closes the channel: use a throwaway one.
            let probe = conn.create_channel().await?;
            if declare_passive(&probe, &queue).await.is_err() {
                let _ = conn.close(200, "bye".into()).await;
                return Err(DlqError::NoQueue(queue));
            }
            let _ = probe.close(200, "bye".into()).await;
        }
        let read = conn.create_channel().await?;
        let write = conn.create_channel().await?;
        write.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(Self { conn, read, write, dlq })
    }

    /// Messages ready in the DLQ (not counting those this session holds unacked).
    async fn depth(&self) -> Result<u64, DlqError> {
        Ok(u64::from(declare_passive(&self.read, &self.dlq).await?))
    }

    async fn get(&self) -> Result<Option<Delivery>, DlqError> {
        let got = self.read.basic_get(self.dlq.as_str().into(), BasicGetOptions { no_ack: false }).await?;
        Ok(got.map(|m| m.delivery))
    }

    /// Publish a fresh copy of `d` to `queue` (default exchange, so only that queue gets it) and
    /// wait for the broker's confirm. The copy starts with a clean retry history.
    async fn copy_to(&self, queue: &str, d: &Delivery) -> Result<(), DlqError> {
        let headers = replay_headers(d.properties.headers().as_ref());
        let properties = d.properties.clone().with_headers(headers).with_delivery_mode(2);
        let confirm = self
            .write
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions { mandatory: true, ..Default::default() },
                &d.data,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            _ => Err(DlqError::NotConfirmed(queue.to_string())),
        }
    }

    async fn close(self) {
        let _ = self.conn.close(200, "bye".into()).await;
    }
}

async fn declare_passive(channel: &Channel, queue: &str) -> lapin::Result<u32> {
    let q = channel
        .queue_declare(queue.into(), QueueDeclareOptions { passive: true, ..Default::default() }, FieldTable::default())
        .await?;
    Ok(q.message_count())
}

/// The headers of a replayed copy: no death records, no retry or dead-letter bookkeeping (a new
/// horizon starts), and the number of replays so far.
fn replay_headers(original: Option<&FieldTable>) -> FieldTable {
    let replays = original.and_then(|h| h.inner().get(REPLAYS_HEADER)).and_then(as_i64).unwrap_or(0);
    let stripped = strip_broker_headers(original);
    let ours = [ATTEMPT_HEADER, FIRST_FAILURE_HEADER, LAST_ERROR_HEADER, REASON_HEADER, ERROR_HEADER, AT_HEADER];
    let mut headers = FieldTable::from(
        stripped
            .inner()
            .iter()
            .filter(|(k, _)| !ours.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    );
    headers.insert(REPLAYS_HEADER.into(), AMQPValue::LongLongInt(replays.saturating_add(1)));
    headers
}

/// The event type: the AMQP `type` property the relay sets, else the envelope's `type`.
fn event_type(d: &Delivery) -> String {
    if let Some(t) = d.properties.kind() {
        return t.to_string();
    }
    #[derive(serde::Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        event_type: String,
    }
    serde_json::from_slice::<TypeOnly>(&d.data).map(|t| t.event_type).unwrap_or_else(|_| "(unreadable)".into())
}

/// Our reason header, else the broker's (`delivery_limit` for a consumer that kept crashing,
/// `rejected` from a consumer older than the reason headers).
fn reason(d: &Delivery) -> String {
    let headers = d.properties.headers().as_ref().map(FieldTable::inner);
    let text = |key: &str| match headers.and_then(|h| h.get(key)) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
        _ => None,
    };
    text(REASON_HEADER).or_else(|| text("x-first-death-reason")).unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_copy_starts_a_new_horizon_and_counts_replays() {
        let mut h = FieldTable::default();
        h.insert("traceparent".into(), AMQPValue::LongString("tp".into()));
        h.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(40));
        h.insert(FIRST_FAILURE_HEADER.into(), AMQPValue::LongLongInt(1));
        h.insert("x-first-death-reason".into(), AMQPValue::LongString("rejected".into()));
        mark(&mut h, Reason::RetriesExhausted, "db down");
        let once = replay_headers(Some(&h));
        assert!(once.contains_key("traceparent"));
        for gone in
            [ATTEMPT_HEADER, FIRST_FAILURE_HEADER, REASON_HEADER, ERROR_HEADER, AT_HEADER, "x-first-death-reason"]
        {
            assert!(!once.contains_key(gone), "{gone} kept");
        }
        assert_eq!(once.inner().get(REPLAYS_HEADER), Some(&AMQPValue::LongLongInt(1)));
        let twice = replay_headers(Some(&once));
        assert_eq!(twice.inner().get(REPLAYS_HEADER), Some(&AMQPValue::LongLongInt(2)));
    }
}
