//! Signed webhook delivery. Each delivery runs in its own background task and is retried with exponential backoff
//! on a non-2xx answer or a connection error, up to a bounded number of attempts. Tests can hold deliveries and
//! release them in an order of their choosing, or deliver an event twice, since Stripe guarantees neither
//! ordering nor exactly-once delivery.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::WebhookRetry;
use crate::controls::lock;
use crate::store::StoredEvent;

/// One delivery of one event (an event delivered twice is two deliveries).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub body: Arc<str>,
    /// The PaymentIntent the event is about (the intent itself, or its charge's or refund's).
    pub payment_intent: Option<String>,
}

impl From<&StoredEvent> for Delivery {
    fn from(stored: &StoredEvent) -> Self {
        let object = &stored.event.data.object;
        let payment_intent = match object.get("object").and_then(|v| v.as_str()) {
            Some("payment_intent") => object.get("id"),
            _ => object.get("payment_intent"),
        }
        .and_then(|v| v.as_str())
        .map(str::to_owned);
        Self {
            event_id: stored.event.id.clone(),
            event_type: stored.event.type_.clone(),
            body: stored.body.clone(),
            payment_intent,
        }
    }
}

/// One attempt to deliver, as seen by the fake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub event_type: String,
    /// 1-based.
    pub attempt: u32,
    pub url: Option<String>,
    /// HTTP status of the receiver's answer, if there was one.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
}

pub(crate) struct Webhooks {
    url: RwLock<Option<String>>,
    secret: String,
    retry: WebhookRetry,
    http: reqwest::Client,
    /// `Some` while deliveries are held back by a test.
    held: Mutex<Option<Vec<Delivery>>>,
    queue: mpsc::UnboundedSender<Delivery>,
    attempts: Mutex<Vec<DeliveryAttempt>>,
    /// PaymentIntents whose new events are never delivered (a receiver unreachable past Stripe's
    /// retry window, a secret rotated wrong): the events are stored, only their delivery is lost.
    dropping: Mutex<BTreeSet<String>>,
    /// Ids of the events lost that way, in creation order; a test delivers them late with `redeliver`.
    dropped: Mutex<Vec<String>>,
}

impl Webhooks {
    pub(crate) fn new(
        url: Option<String>,
        secret: String,
        retry: WebhookRetry,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Delivery>) {
        let (queue, receiver) = mpsc::unbounded_channel();
        let webhooks = Self {
            url: RwLock::new(url),
            secret,
            retry,
            http: reqwest::Client::new(),
            held: Mutex::new(None),
            queue,
            attempts: Mutex::new(Vec::new()),
            dropping: Mutex::new(BTreeSet::new()),
            dropped: Mutex::new(Vec::new()),
        };
        (Arc::new(webhooks), receiver)
    }

    /// Starts the task that turns queued deliveries into concurrent delivery tasks. Runs on the caller's runtime,
    /// so deliveries outlive any single HTTP request to the fake.
    pub(crate) fn spawn_dispatcher(
        self: &Arc<Self>,
        mut receiver: mpsc::UnboundedReceiver<Delivery>,
    ) -> tokio::task::JoinHandle<()> {
        let webhooks = Arc::clone(self);
        tokio::spawn(async move {
            while let Some(delivery) = receiver.recv().await {
                let webhooks = Arc::clone(&webhooks);
                tokio::spawn(async move {
                    webhooks.deliver(&delivery).await;
                });
            }
        })
    }

    pub(crate) fn set_url(&self, url: Option<String>) {
        *self.url.write().unwrap_or_else(std::sync::PoisonError::into_inner) = url;
    }

    fn url(&self) -> Option<String> {
        self.url.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Queues a delivery, or parks it while held.
    pub(crate) fn enqueue(&self, delivery: Delivery) {
        let mut held = lock(&self.held);
        match held.as_mut() {
            Some(parked) => parked.push(delivery),
            None => {
                // Only fails once the dispatcher is gone, i.e. the fake is stopping.
                let _ = self.queue.send(delivery);
            }
        }
    }

    /// A new event's delivery: lost when its PaymentIntent's webhooks are being dropped, else
    /// [`Webhooks::enqueue`]d. Redeliveries asked for by a test bypass the drop (they are the late
    /// webhook the test wants to see arrive).
    pub(crate) fn enqueue_new(&self, delivery: Delivery) {
        let dropped = delivery.payment_intent.as_ref().is_some_and(|pi| lock(&self.dropping).contains(pi));
        if dropped {
            tracing::info!(event_id = %delivery.event_id, event_type = %delivery.event_type, "webhook dropped by the test control");
            lock(&self.dropped).push(delivery.event_id);
            return;
        }
        self.enqueue(delivery);
    }

    /// Starts (`true`) or stops dropping the new events of a PaymentIntent.
    pub(crate) fn set_dropping(&self, payment_intent: &str, drop: bool) {
        let mut dropping = lock(&self.dropping);
        if drop {
            dropping.insert(payment_intent.to_owned());
        } else {
            dropping.remove(payment_intent);
        }
    }

    pub(crate) fn dropped_event_ids(&self) -> Vec<String> {
        lock(&self.dropped).clone()
    }

    pub(crate) fn hold(&self) {
        lock(&self.held).get_or_insert_with(Vec::new);
    }

    pub(crate) fn held_event_ids(&self) -> Vec<String> {
        lock(&self.held).as_ref().map(|parked| parked.iter().map(|d| d.event_id.clone()).collect()).unwrap_or_default()
    }

    /// Stops holding and delivers what was parked, one after the other (each waits for the previous one to
    /// finish, retries included): first the events named in `order`, in that order, then the rest as they came.
    /// Returns the number of deliveries made.
    pub(crate) async fn release(&self, order: &[String]) -> usize {
        let parked = lock(&self.held).take().unwrap_or_default();
        let mut rest = parked;
        let mut ordered = Vec::with_capacity(rest.len());
        for id in order {
            while let Some(pos) = rest.iter().position(|d| &d.event_id == id) {
                ordered.push(rest.remove(pos));
            }
        }
        ordered.extend(rest);
        for delivery in &ordered {
            self.deliver(delivery).await;
        }
        ordered.len()
    }

    pub(crate) fn attempts(&self) -> Vec<DeliveryAttempt> {
        lock(&self.attempts).clone()
    }

    /// Delivers with retries; true once the receiver answered 2xx.
    async fn deliver(&self, delivery: &Delivery) -> bool {
        let mut backoff = self.retry.initial_backoff;
        for attempt in 1..=self.retry.max_attempts.max(1) {
            let url = self.url();
            let (status, error) = match &url {
                None => (None, Some("no webhook URL configured".to_owned())),
                Some(url) => self.post(url, delivery).await,
            };
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            lock(&self.attempts).push(DeliveryAttempt {
                event_id: delivery.event_id.clone(),
                event_type: delivery.event_type.clone(),
                attempt,
                url: url.clone(),
                status,
                error,
                delivered,
            });
            if delivered || url.is_none() {
                return delivered;
            }
            if attempt < self.retry.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
        }
        tracing::warn!(event_id = %delivery.event_id, "webhook delivery gave up");
        false
    }

    async fn post(&self, url: &str, delivery: &Delivery) -> (Option<u16>, Option<String>) {
        // Signed at send time, as Stripe does: a redelivery carries a fresh timestamp.
        let signature = stripe::sign(&self.secret, chrono::Utc::now().timestamp(), delivery.body.as_bytes());
        let result = self
            .http
            .post(url)
            .timeout(self.retry.timeout)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Stripe-Signature", signature)
            .header("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .body(delivery.body.to_string())
            .send()
            .await;
        match result {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        }
    }
}
