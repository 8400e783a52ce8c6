//! Shared setup: a fake, a client pointed at it, and a tiny webhook receiver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use stripe::{Client, CreateCustomer, CreatePaymentIntent, Event, IdempotencyKey, PaymentIntent, WebhookVerifier};
use stripe_fake::{FakeConfig, RunningFake, StripeFake};
use tokio::sync::mpsc;

pub async fn start_fake() -> RunningFake {
    start_fake_with(FakeConfig::for_tests()).await
}

pub async fn start_fake_with(config: FakeConfig) -> RunningFake {
    StripeFake::start(config).await.expect("fake starts")
}

pub fn client(fake: &RunningFake) -> Client {
    Client::new(fake.client_config()).unwrap()
}

/// A fresh key per call, for tests that are not about idempotency.
pub fn key(op: &str) -> IdempotencyKey {
    IdempotencyKey::for_operation(op, uuid_like()).unwrap()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn usd(amount: i64) -> CreatePaymentIntent {
    CreatePaymentIntent { amount, currency: "usd".into(), ..Default::default() }
}

/// A succeeded payment of `amount` cents (confirmed as the client app would).
pub async fn paid_intent(fake: &RunningFake, client: &Client, amount: i64) -> PaymentIntent {
    let customer = client.create_customer(&CreateCustomer::default(), &key("customer")).await.unwrap();
    let params = CreatePaymentIntent { customer: Some(customer.id), ..usd(amount) };
    let pi = client.create_payment_intent(&params, &key("pi")).await.unwrap();
    fake.confirm_payment_intent(&pi.id, "pm_card_visa").unwrap();
    client.retrieve_payment_intent(&pi.id).await.unwrap()
}

#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub body: Vec<u8>,
}

/// Records every webhook POST and answers with queued statuses (200 once the queue is empty).
pub struct Receiver {
    pub url: String,
    received: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    handle: ServerHandle,
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let signature = req.headers().get("Stripe-Signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let status = state.statuses.lock().unwrap().pop_front().unwrap_or(200);
    state.tx.send(Received { signature, body: body.to_vec() }).unwrap();
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let state = web::Data::new(ReceiverState { tx, statuses: statuses.clone() });
        let server = HttpServer::new(move || {
            App::new().app_data(state.clone()).route("/webhooks/stripe", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{addr}/webhooks/stripe"), received: tokio::sync::Mutex::new(rx), statuses, handle }
    }

    /// The next requests get these statuses, in order.
    pub fn respond_with(&self, statuses: &[u16]) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    pub async fn next(&self) -> Received {
        let mut rx = self.received.lock().await;
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a webhook within 5 s")
            .expect("receiver open")
    }

    /// The next delivery, verified with the `stripe` crate and parsed.
    pub async fn next_event(&self, secret: &str) -> Event {
        let received = self.next().await;
        WebhookVerifier::new([secret]).construct_event(&received.signature, &received.body).expect("valid signature")
    }

    /// Asserts nothing more arrives for a short while.
    pub async fn assert_quiet(&self) {
        let mut rx = self.received.lock().await;
        if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            panic!("unexpected webhook: {}", String::from_utf8_lossy(&extra.body));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A fake that delivers to a fresh receiver.
pub async fn fake_with_receiver() -> (RunningFake, Receiver) {
    let receiver = Receiver::start().await;
    let config = FakeConfig { webhook_url: Some(receiver.url.clone()), ..FakeConfig::for_tests() };
    (start_fake_with(config).await, receiver)
}
