//! Watching the event bus from a test: a private queue bound to routing keys on the test's
//! exchange, and cleanup of the test's broker objects.

use crate::{amqp_url, TestEnv};
use events::CloudEvent;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use std::time::Duration;

pub struct Capture {
    conn: Connection,
    consumer: lapin::Consumer,
}

impl Capture {
    /// Bind a fresh exclusive queue to `keys` (e.g. `#`) on the test's exchange.
    pub async fn bind(env: &TestEnv, keys: &[&str]) -> Self {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("amqp");
        let ch = conn.create_channel().await.expect("channel");
        env.topology().declare_exchanges(&ch).await.expect("exchanges");
        let q = ch
            .queue_declare(
                "".into(),
                QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .expect("queue");
        for key in keys {
            ch.queue_bind(
                q.name().clone(),
                env.exchange.as_str().into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
        }
        let consumer = ch
            .basic_consume(q.name().clone(), "capture".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .expect("consume");
        Self { conn, consumer }
    }

    /// Whether the capture's connection is still open. A broker that goes away without closing
    /// it (a lost close frame) leaves the consumer merely quiet until the heartbeat notices,
    /// a minute or more later: a watcher that must bind again asks this when nothing arrives.
    pub fn is_connected(&self) -> bool {
        self.conn.status().connected()
    }

    /// The next event, or `None` after `timeout`. Every event seen is checked against its
    /// published contract (envelope + data schema): a test that captures an event proves it.
    pub async fn next(&mut self, timeout: Duration) -> Option<CloudEvent> {
        let delivery = tokio::time::timeout(timeout, self.consumer.next()).await.ok()??.ok()?;
        let _ = delivery.ack(BasicAckOptions::default()).await;
        let raw: serde_json::Value = serde_json::from_slice(&delivery.data).expect("an event is JSON");
        if !raw["type"].as_str().unwrap_or_default().starts_with("test.") {
            crate::schema::assert_valid_event(&raw);
        }
        serde_json::from_value(raw).ok()
    }

    /// The next event of `event_type`, skipping others, or panic after `timeout`.
    pub async fn expect(&mut self, event_type: &str, timeout: Duration) -> CloudEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(e) if e.event_type == event_type => return e,
                Some(_) => continue,
                None => panic!("no {event_type} event within {timeout:?}"),
            }
        }
    }

    /// Every event that arrives within `window`.
    pub async fn drain(&mut self, window: Duration) -> Vec<CloudEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next(window).await {
            out.push(e);
        }
        out
    }
}

/// Number of messages waiting in `queue` (declared passively), or None if it does not exist.
pub async fn queue_depth(queue: &str) -> Option<u32> {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.ok()?;
    let ch = conn.create_channel().await.ok()?;
    let q = ch
        .queue_declare(queue.into(), QueueDeclareOptions { passive: true, ..Default::default() }, FieldTable::default())
        .await
        .ok()?;
    let _ = conn.close(200, "bye".into()).await;
    Some(q.message_count())
}

pub(crate) async fn delete_all(env: &TestEnv, services: &[&str]) {
    let Ok(conn) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await else {
        return;
    };
    let topo = env.topology();
    for s in services {
        let retry_queues = topo.retry_queues(s, &crate::TEST_RETRY);
        for q in [topo.queue(s), topo.dead_letter_queue(s)].into_iter().chain(retry_queues) {
            if let Ok(ch) = conn.create_channel().await {
                let _ = ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await;
            }
        }
    }
    if let Ok(ch) = conn.create_channel().await {
        let _ = ch.exchange_delete(env.exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
        let _ = ch.exchange_delete(topo.dead_letter_exchange().as_str().into(), ExchangeDeleteOptions::default()).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, "bye".into())).await;
}

/// An envelope for an event another service publishes, built from its type (`<service>.<...>.vN`):
/// the source and `dataschema` are where the contract says, so [`publish_raw`] checks `data`
/// against the real schema.
pub fn foreign_event(event_type: &str, subject: &str, data: serde_json::Value) -> CloudEvent {
    let (service, name) = event_type.split_once('.').unwrap_or(("unknown", event_type));
    CloudEvent {
        specversion: "1.0".into(),
        id: uuid::Uuid::now_v7(),
        source: format!("/services/{service}"),
        event_type: event_type.into(),
        time: chrono::Utc::now(),
        subject: subject.into(),
        datacontenttype: "application/json".into(),
        dataschema: format!("events/{service}/{name}.json"),
        traceparent: None,
        tracestate: None,
        data,
    }
}

/// Publish an envelope straight to the test's exchange (to simulate redelivery or a foreign
/// producer). The envelope is first checked against its published contract (the CloudEvents
/// envelope and the `data` schema in proto-schemas), like every event [`Capture`] sees: a test
/// that feeds a consumer a hand-built event proves something only if a real producer could send
/// it. Event types of the test catalog (`test.*`) have no contract and are not checked.
pub async fn publish_raw(env: &TestEnv, event: &CloudEvent) {
    if !event.event_type.starts_with("test.") {
        crate::schema::assert_valid_event(&serde_json::to_value(event).expect("an envelope serializes"));
    }
    publish_unchecked(env, event).await;
}

/// [`publish_raw`] without the contract check: ONLY for tests of what a consumer does with an
/// event that breaks today's contract (an older producer's shape, a poison message). Say which
/// in the test.
pub async fn publish_off_contract(env: &TestEnv, event: &CloudEvent) {
    publish_unchecked(env, event).await;
}

async fn publish_unchecked(env: &TestEnv, event: &CloudEvent) {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("amqp");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(lapin::options::ConfirmSelectOptions::default()).await.expect("confirms");
    env.topology().declare_exchanges(&ch).await.expect("exchanges");
    let body = serde_json::to_vec(event).expect("json");
    ch.basic_publish(
        env.exchange.as_str().into(),
        event.event_type.as_str().into(),
        lapin::options::BasicPublishOptions::default(),
        &body,
        lapin::BasicProperties::default().with_delivery_mode(2),
    )
    .await
    .expect("publish")
    .await
    .expect("confirm");
    let _ = conn.close(200, "bye".into()).await;
}

/// Run `rabbitmqctl <args>` (tests that stop and start the broker application).
pub fn rabbitmqctl(args: &[&str]) {
    let status = std::process::Command::new("rabbitmqctl").args(args).status().expect("rabbitmqctl");
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}
