//! The client side: calls through the gateway with real JWTs, the way an app does. Two styles:
//! [`Api::post_until_done`] retries a failed POST with the SAME Idempotency-Key until it gets a
//! final answer (what a real client does across a crash, scenario A); [`Api::once`] sends once and
//! reports what came back (scenario B counts every failure).

use bench::auth::Minter;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub struct Api {
    pub http: reqwest::Client,
    pub gateway: String,
    pub stripe: String,
    pub minter: Minter,
    /// Attempts that failed and were sent again (scenario A's measure of disruption).
    pub retries: AtomicU64,
}

/// What one request got back.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// How a request failed, for the report: an HTTP status with its problem code, or the transport.
pub fn describe(result: &Result<Answer, String>) -> String {
    match result {
        Ok(a) => format!("{} {}", a.status, a.body["code"].as_str().unwrap_or("")).trim().to_string(),
        Err(e) => e.clone(),
    }
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        format!("transport error: {e}")
    }
}

/// Answers a retry with the same key may turn into success: the gateway or a service was down
/// (5xx), or the first attempt still holds the key (409 `idempotency_in_progress`).
fn retryable(result: &Result<Answer, String>) -> bool {
    match result {
        Err(_) => true,
        Ok(a) => a.status >= 500 || (a.status == 409 && a.body["code"] == "idempotency_in_progress"),
    }
}

impl Api {
    pub fn bearer(&self, user: Uuid, role: &'static str) -> Result<String, String> {
        Ok(format!("Bearer {}", self.minter.client(user, role)?))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, String> {
        let res = req.send().await.map_err(|e| transport(&e))?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(|e| transport(&e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// One GET or POST through the gateway as `user`, no retry.
    pub async fn once(
        &self,
        user: Uuid,
        role: &'static str,
        path: &str,
        post: Option<(&Value, &str)>,
    ) -> Result<Answer, String> {
        let url = format!("{}{path}", self.gateway);
        let req = match post {
            Some((body, key)) => self.http.post(url).json(body).header("idempotency-key", key),
            None => self.http.get(url),
        };
        self.send(req.header("authorization", self.bearer(user, role)?)).await
    }

    /// POST with `key` until the answer is final: a 2xx is returned, a refusal (4xx other than
    /// `idempotency_in_progress`) is an error naming it, and anything else is retried with the
    /// same key and body for up to `within`.
    pub async fn post_until_done(
        &self,
        user: Uuid,
        role: &'static str,
        path: &str,
        body: &Value,
        key: &str,
        within: Duration,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        loop {
            let result = self.once(user, role, path, Some((body, key))).await;
            match &result {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a.body.clone()),
                _ if retryable(&result) && Instant::now() < deadline => {
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                Ok(a) => return Err(format!("POST {path} (key {key}): {} {}", a.status, a.body)),
                Err(e) => return Err(format!("POST {path} (key {key}): {e}, still after {within:?}")),
            }
        }
    }

    /// The buyer's app confirming the payment with Stripe (here the fake, never restarted), with a
    /// test card. Returns the PaymentIntent id.
    pub async fn confirm(&self, client_secret: &Value) -> Result<String, String> {
        let secret = client_secret.as_str().ok_or("the purchase has no client_secret")?;
        let intent = secret.split("_secret_").next().unwrap_or_default().to_string();
        let url = format!("{}/_fake/payment_intents/{intent}/confirm", self.stripe);
        let req = self.http.post(url).json(&serde_json::json!({ "payment_method": "pm_card_visa" }));
        let a = self.send(req).await?;
        if a.status == 200 {
            Ok(intent)
        } else {
            Err(format!("confirm {intent}: {} {}", a.status, a.body))
        }
    }
}
