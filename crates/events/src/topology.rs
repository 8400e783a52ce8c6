//! The RabbitMQ topology: one durable topic exchange for every event, one durable quorum queue per
//! consuming service with an explicit delivery limit, and a dead-letter exchange + queue per service.
//!
//! Beside them, per consuming service, the delayed-retry queues (see [`crate::retry`]): one quorum
//! queue per delay of the service's schedule, `<queue>.retry.<ms>ms`, whose messages expire after
//! that delay and are dead-lettered through the dead-letter exchange back to the service's queue
//! (which is bound there under its own name). The service's queue keeps the arguments it always
//! had, so upgrading needs no queue migration; the retry queues carry their delay in their name, so
//! a new schedule declares new queues instead of redeclaring old ones with other arguments.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Topology {
    /// The topic exchange (`monetization.events`; tests use their own).
    pub exchange: String,
    /// Prepended to queue names so parallel tests never share queues.
    pub queue_prefix: String,
    /// Deliveries after which a message goes to the DLQ (RabbitMQ 3.x quorum queues have no default).
    pub delivery_limit: i64,
}

impl Topology {
    pub fn new(exchange: &str, queue_prefix: &str) -> Self {
        Self { exchange: exchange.into(), queue_prefix: queue_prefix.into(), delivery_limit: 5 }
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.exchange)
    }

    pub fn queue(&self, service: &str) -> String {
        format!("{}{service}.events", self.queue_prefix)
    }

    pub fn dead_letter_queue(&self, service: &str) -> String {
        format!("{}.dlq", self.queue(service))
    }

    /// The queue a failed event waits `delay` in before it returns to `service`'s queue.
    pub fn retry_queue(&self, service: &str, delay: Duration) -> String {
        format!("{}.retry.{}ms", self.queue(service), delay.as_millis())
    }

    /// Every retry queue of `service` under `policy`, shortest delay first.
    pub fn retry_queues(&self, service: &str, policy: &crate::retry::RetryPolicy) -> Vec<String> {
        policy.tiers().into_iter().map(|d| self.retry_queue(service, d)).collect()
    }

    pub async fn declare_exchanges(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
        channel
            .exchange_declare(self.exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default())
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().as_str().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await
    }

    /// Declare `service`'s queue and DLQ and bind the queue to `routing_keys`.
    pub async fn declare_service_queue(
        &self,
        channel: &Channel,
        service: &str,
        routing_keys: &[&str],
    ) -> lapin::Result<()> {
        self.declare_exchanges(channel).await?;
        let durable = QueueDeclareOptions { durable: true, ..Default::default() };
        let dlq = self.dead_letter_queue(service);
        let mut dlq_args = FieldTable::default();
        dlq_args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        channel.queue_declare(dlq.as_str().into(), durable, dlq_args).await?;
        channel
            .queue_bind(
                dlq.as_str().into(),
                self.dead_letter_exchange().as_str().into(),
                dlq.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        let queue = self.queue(service);
        let mut args = FieldTable::default();
        let mut put = |k: &str, v: AMQPValue| {
            args.insert(ShortString::from(k), v);
        };
        put("x-queue-type", AMQPValue::LongString("quorum".into()));
        put("x-delivery-limit", AMQPValue::LongLongInt(self.delivery_limit));
        put("x-dead-letter-exchange", AMQPValue::LongString(self.dead_letter_exchange().into()));
        put("x-dead-letter-routing-key", AMQPValue::LongString(dlq.clone().into()));
        // At-least-once dead-lettering: a message is only removed once the DLQ has confirmed it.
        put("x-dead-letter-strategy", AMQPValue::LongString("at-least-once".into()));
        put("x-overflow", AMQPValue::LongString("reject-publish".into()));
        channel.queue_declare(queue.as_str().into(), durable, args).await?;
        // The way back from the retry queues (a binding, not an argument: existing queues accept it).
        channel
            .queue_bind(
                queue.as_str().into(),
                self.dead_letter_exchange().as_str().into(),
                queue.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for key in routing_keys {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    self.exchange.as_str().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Declare `service`'s retry queues for `policy` (after [`Topology::declare_service_queue`]).
    /// They have no consumer: a message sits there until its TTL, then the broker dead-letters it
    /// (at least once: it leaves only when the service's queue has confirmed it) back to the
    /// service's queue. Publish to them through the default exchange, by queue name.
    pub async fn declare_retry_queues(
        &self,
        channel: &Channel,
        service: &str,
        policy: &crate::retry::RetryPolicy,
    ) -> lapin::Result<()> {
        let back_to = self.queue(service);
        for delay in policy.tiers() {
            let mut args = FieldTable::default();
            let mut put = |k: &str, v: AMQPValue| {
                args.insert(ShortString::from(k), v);
            };
            put("x-queue-type", AMQPValue::LongString("quorum".into()));
            put("x-message-ttl", AMQPValue::LongLongInt(delay.as_millis() as i64));
            put("x-dead-letter-exchange", AMQPValue::LongString(self.dead_letter_exchange().into()));
            put("x-dead-letter-routing-key", AMQPValue::LongString(back_to.clone().into()));
            put("x-dead-letter-strategy", AMQPValue::LongString("at-least-once".into()));
            put("x-overflow", AMQPValue::LongString("reject-publish".into()));
            let name = self.retry_queue(service, delay);
            channel
                .queue_declare(name.as_str().into(), QueueDeclareOptions { durable: true, ..Default::default() }, args)
                .await?;
        }
        Ok(())
    }
}
