//! All state of the fake, behind one mutex: a request checks its idempotency key, runs, and records its result
//! and events atomically, which is the guarantee the real API gives for one key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::error::ApiError;
use crate::objects::{
    self, Charge, Customer, Event, EventData, EventRequest, PaymentIntent, PaymentMethod, Refund, SetupIntent,
};

/// The API version the fake claims in events; matches the `stripe` crate's pinned version.
pub(crate) const API_VERSION: &str = stripe::DEFAULT_STRIPE_VERSION;

/// Who is calling and under which idempotency key: events record the key as Stripe's `request` field does.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestCtx {
    pub idempotency_key: Option<String>,
    pub request_id: Option<String>,
}

/// An event as stored: the object for listing and the exact bytes every delivery of it sends.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub event: Event,
    pub body: Arc<str>,
}

/// A saved response for an idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct SavedResponse {
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub customers: BTreeMap<String, Customer>,
    /// Ids of deleted customers: Stripe still answers a retrieve with a `deleted: true` stub.
    pub deleted_customers: std::collections::BTreeSet<String>,
    pub payment_intents: BTreeMap<String, PaymentIntent>,
    pub charges: BTreeMap<String, Charge>,
    pub refunds: BTreeMap<String, Refund>,
    pub setup_intents: BTreeMap<String, SetupIntent>,
    pub payment_methods: BTreeMap<String, PaymentMethod>,
    /// Creation counter of payment methods, for newest-first lists.
    pub pm_seq: u64,
    pub events: Vec<StoredEvent>,
    /// Keyed by (API key, idempotency key): keys are scoped per API key, so two accounts (or two services with
    /// different keys) cannot collide.
    pub idempotency: HashMap<(String, String), SavedResponse>,
    /// Events created by the request in progress, handed to the webhook sender once the lock is released.
    new_events: Vec<StoredEvent>,
}

impl Store {
    pub(crate) fn emit(&mut self, type_: &str, object: Value, ctx: &RequestCtx) {
        let event = Event {
            id: crate::ids::new_id("evt"),
            object: "event",
            api_version: API_VERSION,
            created: objects::now(),
            data: EventData { object },
            livemode: false,
            pending_webhooks: 1,
            request: EventRequest { id: ctx.request_id.clone(), idempotency_key: ctx.idempotency_key.clone() },
            type_: type_.to_owned(),
        };
        let body: Arc<str> = serde_json::to_string(&event).unwrap_or_default().into();
        let stored = StoredEvent { event, body };
        self.events.push(stored.clone());
        self.new_events.push(stored);
    }

    pub(crate) fn take_new_events(&mut self) -> Vec<StoredEvent> {
        std::mem::take(&mut self.new_events)
    }

    pub(crate) fn event(&self, id: &str) -> Option<&StoredEvent> {
        self.events.iter().find(|e| e.event.id == id)
    }

    pub(crate) fn customer(&self, id: &str) -> Result<&Customer, ApiError> {
        self.customers.get(id).ok_or_else(|| ApiError::no_such("customer", id, "id", 404))
    }

    pub(crate) fn payment_intent(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.payment_intents.get(id).ok_or_else(|| ApiError::no_such("payment_intent", id, "intent", 404))
    }

    pub(crate) fn setup_intent(&self, id: &str) -> Result<&SetupIntent, ApiError> {
        self.setup_intents.get(id).ok_or_else(|| ApiError::no_such("setup_intent", id, "intent", 404))
    }

    pub(crate) fn charge(&self, id: &str) -> Result<&Charge, ApiError> {
        self.charges.get(id).ok_or_else(|| ApiError::no_such("charge", id, "charge", 404))
    }

    pub(crate) fn refund(&self, id: &str) -> Result<&Refund, ApiError> {
        self.refunds.get(id).ok_or_else(|| ApiError::no_such("refund", id, "refund", 404))
    }
}

/// Lists in creation order (ids are random, so map order means nothing).
pub(crate) fn list_by_created<T: serde::Serialize>(items: impl Iterator<Item = (i64, T)>) -> Vec<Value> {
    let mut items: Vec<(i64, T)> = items.collect();
    items.sort_by_key(|(created, _)| *created);
    items.iter().map(|(_, item)| objects::to_value(item)).collect()
}
