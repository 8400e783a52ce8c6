//! When a flow's tokens are credited. Rewards announces every credit (`rewards.tokens.awarded.v1`),
//! published by its outbox relay after the credit committed, so by the time the bench hears of it
//! the buyer's balance already shows it: the end of the flow, measured a relay hop late at worst.
//!
//! Why not poll the balance, as the flow did until round 5: each poll is a request through the
//! gateway and rewards (~0.3 ms of CPU), every 10 ms until the tokens show, so under load it took
//! 4-8 reads per flow, ~10 % of the flow's CPU, and more the slower the chain got: an overloaded run
//! loaded itself further and was measured slower still.

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::oneshot;
use uuid::Uuid;

const AWARDED: &str = "rewards.tokens.awarded.v1";

#[derive(Default)]
pub struct Awarded {
    waiting: Mutex<HashMap<Uuid, oneshot::Sender<Instant>>>,
}

#[derive(Deserialize)]
struct Event {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    user_id: Uuid,
}

impl Awarded {
    /// Listen on a queue of the bench's own (exclusive: it goes when the bench does) bound to
    /// credits on `exchange`.
    pub async fn listen(amqp_url: &str, exchange: &str) -> Result<Arc<Self>, String> {
        let conn = Connection::connect(amqp_url, ConnectionProperties::default()).await.map_err(|e| e.to_string())?;
        let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
        let queue = ch
            .queue_declare(
                "".into(),
                QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        ch.queue_bind(
            queue.name().clone(),
            exchange.into(),
            AWARDED.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("binding to {exchange}: {e}"))?;
        let mut deliveries = ch
            .basic_consume(
                queue.name().clone(),
                "bench-awarded".into(),
                BasicConsumeOptions { no_ack: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let awarded = Arc::new(Self::default());
        let heard = awarded.clone();
        tokio::spawn(async move {
            let _conn = conn; // the connection lives as long as the consumer
            while let Some(Ok(delivery)) = deliveries.next().await {
                if let Ok(event) = serde_json::from_slice::<Event>(&delivery.data) {
                    heard.credited(event.data.user_id, Instant::now());
                }
            }
        });
        Ok(awarded)
    }

    /// The instant `user`'s next credit is heard of; call before the action that earns it.
    pub fn expect(&self, user: Uuid) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).insert(user, tx);
        rx
    }

    fn credited(&self, user: Uuid, at: Instant) {
        if let Some(tx) = self.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&user) {
            let _ = tx.send(at);
        }
    }
}
