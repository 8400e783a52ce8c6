use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use events::{CloudEvent, DomainEvent};
use platform::auth::Role;
use runtime::RunningService;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::TestEnv;
use uuid::Uuid;

pub struct Webhooks {
    pub env: TestEnv,
    pub svc: RunningService,
    pub http: reqwest::Client,
    pub admin: Uuid,
}

/// Settings a test may change; the rest are the defaults with loopback allowed.
pub fn config() -> webhooks::Config {
    webhooks::Config {
        retry_schedule: "0s,200ms,200ms".into(),
        dispatch_interval_ms: 50,
        timeout_ms: 2000,
        ..webhooks::Config::default()
    }
}

impl Webhooks {
    pub async fn start(config: webhooks::Config) -> Self {
        let env = TestEnv::new();
        let svc = testkit::service::start(&env, &webhooks::SPEC, |ctx| webhooks::setup(ctx, config)).await;
        Self { env, svc, http: testkit::http(), admin: Uuid::now_v7() }
    }

    pub fn token(&self, roles: &[Role]) -> String {
        testkit::internal_token("webhooks", &self.admin.to_string(), roles)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.svc.url()))
            .header("x-internal-token", self.token(&[Role::Admin]));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create(&self, url: &str, types: &[&str]) -> (u16, Value) {
        let body = serde_json::json!({"url": url, "event_types": types, "description": "test"});
        self.call(reqwest::Method::POST, "/api/admin/webhooks/endpoints", Some(body), Some(&Uuid::new_v4().to_string()))
            .await
    }

    pub async fn attempts(&self, path: &str) -> Vec<Value> {
        let (status, body) = self.call(reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    pub async fn stop(self) {
        self.svc.stop().await;
        self.env.cleanup(&["webhooks"]).await;
    }
}

/// An event as rewards publishes it.
pub fn tokens_awarded() -> CloudEvent {
    let e = events::catalog::rewards::TokensAwarded {
        transaction_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        kind: "award".into(),
        amount: 5,
        rule: None,
        reason: "test".into(),
        reference: None,
        balance_after: 5,
        awarded_at: chrono::Utc::now(),
    };
    assert_eq!(events::catalog::rewards::TokensAwarded::TYPE, "rewards.tokens.awarded.v1");
    CloudEvent::new(&e, None).unwrap()
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Received {
    /// Which of `secrets` produced a signature in the header (Standard Webhooks: any one verifies).
    pub fn verifies_with(&self, secret: &str) -> bool {
        let ts: i64 = self.timestamp.parse().unwrap();
        let expected = webhooks::domain::signing::sign(secret, &self.id, ts, self.body.as_bytes()).unwrap();
        self.signature.split(' ').any(|s| s == expected)
    }
}

/// A receiver on loopback: answers 500 to the first `fail_first` requests, then 200.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub fail_first: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

#[derive(Clone)]
struct RecvState {
    got: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicUsize>,
}

async fn receive(state: web::Data<RecvState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    state.got.lock().unwrap().push(Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let left = state.fail_first.load(Ordering::SeqCst);
    if left > 0 {
        state.fail_first.store(left - 1, Ordering::SeqCst);
        return HttpResponse::InternalServerError().body("receiver failing on purpose");
    }
    HttpResponse::Ok().body("ok")
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let state = RecvState { got: Arc::default(), fail_first: Arc::new(AtomicUsize::new(fail_first)) };
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{addr}/hooks"), got: state.got, fail_first: state.fail_first, handle }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until `n` requests came.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        testkit::eventually(&format!("{n} webhook requests"), Duration::from_secs(20), || {
            let got = self.received();
            async move { (got.len() >= n).then_some(got) }
        })
        .await
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
