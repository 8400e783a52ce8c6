//! Starting the fake in-process and the handle tests drive it with.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::dev::{ServerHandle, Service};
use actix_web::{web, App, HttpServer};
use futures_util::FutureExt;
use serde_json::Value;

use crate::api::gate::{self, Admission};
use crate::api::{control, v1};
use crate::config::FakeConfig;
use crate::controls::Fault;
use crate::error::ApiError;
use crate::state::Shared;
use crate::store::Store;
use crate::webhooks::{DeliveryAttempt, Webhooks};

pub struct StripeFake;

impl StripeFake {
    /// Binds, starts serving in the background on the current tokio runtime, and returns once the port is bound.
    pub async fn start(config: FakeConfig) -> std::io::Result<RunningFake> {
        let (webhooks, receiver) =
            Webhooks::new(config.webhook_url.clone(), config.webhook_secret.clone(), config.webhook_retry);
        let dispatcher = webhooks.spawn_dispatcher(receiver);
        let shared = web::Data::new(Shared {
            config: config.clone(),
            store: Mutex::new(Store::default()),
            controls: Default::default(),
            webhooks,
        });
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .service(
                    web::scope("/v1")
                        .wrap_fn(|req, srv| match gate::admit(&req) {
                            Admission::Pass => srv.call(req).boxed_local(),
                            Admission::Reject(response) => {
                                let response = req.into_response(response);
                                async move { Ok(response) }.boxed_local()
                            }
                            Admission::DelayResponse(delay) => {
                                let call = srv.call(req);
                                async move {
                                    let response = call.await;
                                    tokio::time::sleep(delay).await;
                                    response
                                }
                                .boxed_local()
                            }
                        })
                        .configure(v1::routes),
                )
                .service(web::scope("/_fake").configure(control::routes))
        })
        .workers(config.workers.max(1))
        // The embedding process (a test, or main.rs) owns signal handling.
        .disable_signals()
        .shutdown_timeout(1)
        .bind((config.host.as_str(), config.port))?;
        let bound =
            server.addrs().first().copied().ok_or_else(|| std::io::Error::other("stripe-fake bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        let reachable = if bound.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        } else {
            bound
        };
        Ok(RunningFake { base_url: format!("http://{reachable}"), addr: bound, shared, handle, dispatcher })
    }
}

/// A started fake. Dropping it stops the server; [`RunningFake::stop`] also waits for that.
pub struct RunningFake {
    /// `http://127.0.0.1:<port>`: give this to `stripe::ClientConfig::new`.
    pub base_url: String,
    pub addr: SocketAddr,
    shared: web::Data<Shared>,
    handle: ServerHandle,
    dispatcher: tokio::task::JoinHandle<()>,
}

impl RunningFake {
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The first accepted API key.
    pub fn api_key(&self) -> &str {
        self.shared.config.api_keys.first().map(String::as_str).unwrap_or_default()
    }

    pub fn webhook_secret(&self) -> &str {
        &self.shared.config.webhook_secret
    }

    /// A client configuration pointing at this fake, with quick retries so tests stay fast.
    pub fn client_config(&self) -> stripe::ClientConfig {
        let mut config = stripe::ClientConfig::new(self.base_url.clone(), self.api_key());
        config.timeout = Duration::from_secs(5);
        config.retry = stripe::RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
        };
        config
    }

    /// Confirms a payment intent as the client app would with its client secret and the card the customer
    /// entered. On an intent in `requires_action`, completes 3-D Secure (successfully) and charges.
    pub fn confirm_payment_intent(&self, id: &str, payment_method: &str) -> Result<Value, ApiError> {
        self.shared.client_confirm(id, Some(payment_method))
    }

    /// Confirms a setup intent as the client app would (`confirmCardSetup`) with the card the
    /// customer entered; on an intent in `requires_action`, passes 3-D Secure and saves the card.
    pub fn confirm_setup_intent(&self, id: &str, payment_method: &str) -> Result<Value, ApiError> {
        self.shared.client_confirm_setup(id, Some(payment_method))
    }

    /// Passes the 3-D Secure challenge of a setup intent in `requires_action`.
    pub fn complete_setup_authentication(&self, id: &str) -> Result<Value, ApiError> {
        self.shared.client_confirm_setup(id, None)
    }

    /// Completes the 3-D Secure challenge of an intent in `requires_action`.
    pub fn complete_authentication(&self, id: &str) -> Result<Value, ApiError> {
        self.shared.client_confirm(id, None)
    }

    /// Every event created so far, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.shared.events()
    }

    pub fn events_of_type(&self, type_: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["type"] == type_).collect()
    }

    pub fn event(&self, id: &str) -> Option<Value> {
        self.shared.event(id).ok()
    }

    /// Delivers a stored event once more.
    pub fn resend_event(&self, id: &str) -> Result<(), ApiError> {
        self.shared.redeliver(id, 1)
    }

    /// Delivers a stored event twice more, as Stripe occasionally does.
    pub fn duplicate_event(&self, id: &str) -> Result<(), ApiError> {
        self.shared.redeliver(id, 2)
    }

    /// The new events of `payment_intent` (its charge's and refunds' included) are stored but never
    /// delivered, as when Stripe gives up on an unreachable endpoint; [`RunningFake::resend_event`]
    /// still delivers one (late).
    pub fn drop_webhooks(&self, payment_intent: &str) {
        self.shared.drop_webhooks(payment_intent, true);
    }

    /// Undoes [`RunningFake::drop_webhooks`] for events created from now on.
    pub fn deliver_webhooks(&self, payment_intent: &str) {
        self.shared.drop_webhooks(payment_intent, false);
    }

    /// Ids of the events whose delivery was dropped, oldest first.
    pub fn dropped_event_ids(&self) -> Vec<String> {
        self.shared.dropped_event_ids()
    }

    /// Parks deliveries (new events, resends, duplicates) until [`RunningFake::release_events`].
    pub fn hold_events(&self) {
        self.shared.hold_events();
    }

    /// Event ids of the parked deliveries, in arrival order.
    pub fn held_event_ids(&self) -> Vec<String> {
        self.shared.held_event_ids()
    }

    /// Stops holding and delivers the parked deliveries one at a time: those of the events in `order` first, in
    /// that order, then the rest in arrival order. Returns when all were attempted (retries included).
    pub async fn release_events(&self, order: &[&str]) -> usize {
        let order: Vec<String> = order.iter().map(|s| (*s).to_owned()).collect();
        self.shared.release_events(&order).await
    }

    /// The next `count` `/v1` calls suffer `fault`.
    pub fn inject_fault(&self, fault: Fault, count: usize) {
        self.shared.inject_fault(fault, count);
    }

    /// The next `count` `/v1` calls answer `status` without doing anything.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.inject_fault(Fault::Status(status), count);
    }

    /// The next `count` `/v1` calls are carried out but answered only after `delay`.
    pub fn delay_next(&self, count: usize, delay: Duration) {
        self.inject_fault(Fault::DelayResponse(delay), count);
    }

    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Calls received for one endpoint, e.g. `"POST /v1/payment_intents"` or
    /// `"POST /v1/payment_intents/{id}/confirm"`, failed and faulted ones included.
    pub fn call_count(&self, endpoint: &str) -> u64 {
        self.call_counts().get(endpoint).copied().unwrap_or(0)
    }

    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.shared.call_counts()
    }

    /// Changes where webhooks go (`None`: store events, deliver nothing). Applies to deliveries not yet attempted.
    pub fn set_webhook_url(&self, url: Option<&str>) {
        self.shared.set_webhook_url(url.map(str::to_owned));
    }

    /// Every webhook delivery attempt so far, in the order they finished.
    pub fn delivery_attempts(&self) -> Vec<DeliveryAttempt> {
        self.shared.delivery_attempts()
    }

    /// A refund made in Stripe's dashboard (no metadata of the merchant's); `amount` in minor
    /// units, `None` for what is left.
    pub fn dashboard_refund(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
        reason: Option<&str>,
    ) -> Result<Value, ApiError> {
        self.shared.dashboard_refund(payment_intent, amount, reason)
    }

    /// Makes a refund fail after it succeeded, as a bank may: `charge.refund.updated` follows.
    pub fn fail_refund(&self, id: &str) -> Result<Value, ApiError> {
        self.shared.fail_refund(id)
    }

    pub fn customers(&self) -> Vec<Value> {
        self.shared.list("customers").unwrap_or_default()
    }

    pub fn payment_intents(&self) -> Vec<Value> {
        self.shared.list("payment_intents").unwrap_or_default()
    }

    pub fn charges(&self) -> Vec<Value> {
        self.shared.list("charges").unwrap_or_default()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.shared.list("refunds").unwrap_or_default()
    }

    pub fn setup_intents(&self) -> Vec<Value> {
        self.shared.list("setup_intents").unwrap_or_default()
    }

    /// Every payment method made so far (attached, detached or never attached), oldest first.
    pub fn payment_methods(&self) -> Vec<Value> {
        self.shared.list("payment_methods").unwrap_or_default()
    }

    /// Stops accepting requests, waits for the server to finish, and stops webhook dispatching.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.dispatcher.abort();
    }
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
        self.dispatcher.abort();
    }
}
