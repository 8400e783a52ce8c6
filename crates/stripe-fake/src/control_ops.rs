//! The test controls, shared by the `/_fake` HTTP routes and the methods of [`crate::RunningFake`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::controls::{lock, Fault};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::Shared;
use crate::store::{list_by_created, RequestCtx};
use crate::webhooks::{Delivery, DeliveryAttempt};

impl Shared {
    pub(crate) fn client_confirm(&self, id: &str, payment_method: Option<&str>) -> Result<Value, ApiError> {
        self.control(|store| store.client_confirm(id, payment_method))
    }

    pub(crate) fn client_confirm_setup(&self, id: &str, payment_method: Option<&str>) -> Result<Value, ApiError> {
        self.control(|store| store.client_confirm_setup(id, payment_method))
    }

    /// A refund made in Stripe's dashboard: no idempotency key, no metadata of ours; it sends
    /// `charge.refunded` like any refund.
    pub(crate) fn dashboard_refund(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
        reason: Option<&str>,
    ) -> Result<Value, ApiError> {
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain(payment_intent) || reason.is_some_and(|r| !plain(r)) {
            return Err(ApiError::invalid_param(
                "parameter_invalid_string",
                "payment_intent",
                "malformed id or reason",
            ));
        }
        let mut form = format!("payment_intent={payment_intent}");
        if let Some(amount) = amount {
            form.push_str(&format!("&amount={amount}"));
        }
        if let Some(reason) = reason {
            form.push_str(&format!("&reason={reason}"));
        }
        let params = Params::parse(form.as_bytes())?;
        self.control(|store| store.create_refund(&params, &RequestCtx::default()))
    }

    /// Makes a refund fail after the fact (see `Store::fail_refund`).
    pub(crate) fn fail_refund(&self, id: &str) -> Result<Value, ApiError> {
        self.control(|store| store.fail_refund(id, &RequestCtx::default()))
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        lock(&self.store).events.iter().map(|e| crate::objects::to_value(&e.event)).collect()
    }

    pub(crate) fn event(&self, id: &str) -> Result<Value, ApiError> {
        lock(&self.store)
            .event(id)
            .map(|e| crate::objects::to_value(&e.event))
            .ok_or_else(|| ApiError::no_such("event", id, "id", 404))
    }

    /// Queues `times` more deliveries of a stored event (the same bytes, freshly signed).
    pub(crate) fn redeliver(&self, id: &str, times: usize) -> Result<(), ApiError> {
        let delivery =
            lock(&self.store).event(id).map(Delivery::from).ok_or_else(|| ApiError::no_such("event", id, "id", 404))?;
        for _ in 0..times {
            self.webhooks.enqueue(delivery.clone());
        }
        Ok(())
    }

    /// Stops (or resumes) delivering the new events of a PaymentIntent: its charge's and refunds'
    /// included. Unknown ids are accepted, so a test may drop before the intent exists.
    pub(crate) fn drop_webhooks(&self, payment_intent: &str, drop: bool) {
        self.webhooks.set_dropping(payment_intent, drop);
    }

    pub(crate) fn dropped_event_ids(&self) -> Vec<String> {
        self.webhooks.dropped_event_ids()
    }

    pub(crate) fn hold_events(&self) {
        self.webhooks.hold();
    }

    pub(crate) fn held_event_ids(&self) -> Vec<String> {
        self.webhooks.held_event_ids()
    }

    pub(crate) async fn release_events(&self, order: &[String]) -> usize {
        self.webhooks.release(order).await
    }

    pub(crate) fn inject_fault(&self, fault: Fault, count: usize) {
        self.controls.inject(fault, count);
    }

    pub(crate) fn clear_faults(&self) {
        self.controls.clear_faults();
    }

    pub(crate) fn call_counts(&self) -> BTreeMap<String, u64> {
        self.controls.calls()
    }

    pub(crate) fn set_webhook_url(&self, url: Option<String>) {
        self.webhooks.set_url(url);
    }

    pub(crate) fn delivery_attempts(&self) -> Vec<DeliveryAttempt> {
        self.webhooks.attempts()
    }

    pub(crate) fn list(&self, kind: &str) -> Option<Vec<Value>> {
        let store = lock(&self.store);
        Some(match kind {
            "customers" => list_by_created(store.customers.values().map(|o| (o.created, o))),
            "payment_intents" => list_by_created(store.payment_intents.values().map(|o| (o.created, o))),
            "charges" => list_by_created(store.charges.values().map(|o| (o.created, o))),
            "refunds" => list_by_created(store.refunds.values().map(|o| (o.created, o))),
            "setup_intents" => list_by_created(store.setup_intents.values().map(|o| (o.created, o))),
            "payment_methods" => list_by_created(store.payment_methods.values().map(|o| (o.seq as i64, o))),
            _ => return None,
        })
    }
}
