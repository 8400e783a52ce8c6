//! The HTTP side: authentication, API version pinning, timeouts, retries with backoff, error decoding.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::form::FormBody;
use crate::{IdempotencyKey, SecretKey, StripeError};

/// The API version this crate's structs were written against. Pinned in every request so a change of the
/// account's default version in the dashboard cannot silently change response shapes.
pub const DEFAULT_STRIPE_VERSION: &str = "2024-06-20";

/// How many times a failed request is sent again, and how long to wait in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `2` means at most 3 requests).
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 2, initial_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// Exponential backoff with jitter in [50%, 100%] of the step, so that many clients failing together (Stripe
    /// blip, deploy) do not come back in lockstep.
    fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        let step = self.initial_backoff.saturating_mul(factor).min(self.max_backoff);
        step.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.stripe.com` in production; the stripe-fake's URL in development and tests.
    pub base_url: String,
    pub secret_key: SecretKey,
    pub stripe_version: String,
    /// Whole-request timeout for one attempt.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<SecretKey>) -> Self {
        Self {
            base_url: base_url.into(),
            secret_key: secret_key.into(),
            stripe_version: DEFAULT_STRIPE_VERSION.to_owned(),
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// Told of every finished call: operation (`POST payment_intents/{id}/confirm`, ids replaced so
/// the set stays bounded), outcome ([`StripeError::outcome`] or `ok`) and the time it took with
/// retries. The billing service counts these into its metrics; this crate stays free of them.
pub type Observer = Arc<dyn Fn(&str, &str, Duration) + Send + Sync>;

/// Cheap to clone; share one per process so connections are pooled.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    inner: Arc<ClientConfig>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// `payment_intents/pi_123/cancel?x=y` -> `payment_intents/{id}/cancel`: Stripe's paths are
/// `resource[/id[/action]]`.
pub fn operation(method: &Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').enumerate().map(|(i, s)| if i == 1 { "{id}" } else { s }).collect();
    format!("{method} {}", segments.join("/"))
}

/// One failed attempt, with Stripe's own opinion on whether to retry when it gave one.
struct Failure {
    error: StripeError,
    should_retry: Option<bool>,
}

impl Client {
    pub fn new(mut config: ClientConfig) -> Result<Self, StripeError> {
        let trimmed = config.base_url.trim_end_matches('/').to_owned();
        if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
            return Err(StripeError::InvalidArgument(format!("base URL {trimmed:?} is not http(s)")));
        }
        config.base_url = trimmed;
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.secret_key.expose()))
            .map_err(|_| StripeError::InvalidArgument("secret key is not a valid header value".into()))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            "Stripe-Version",
            HeaderValue::from_str(&config.stripe_version)
                .map_err(|_| StripeError::InvalidArgument("invalid Stripe-Version".into()))?,
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("monetization-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StripeError::InvalidArgument(format!("could not build HTTP client: {e}")))?;
        Ok(Self { http, inner: Arc::new(config), observer: None })
    }

    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner
    }

    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: FormBody,
        idempotency_key: &IdempotencyKey,
    ) -> Result<T, StripeError> {
        // Encoded once: every retry sends the same bytes under the same key.
        let body = form.encode();
        self.execute(Method::POST, path, Some(body), Some(idempotency_key)).await
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, StripeError> {
        self.execute(Method::GET, path, None, None).await
    }

    /// DELETE is idempotent by itself: Stripe takes no `Idempotency-Key` on it.
    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, StripeError> {
        self.execute(Method::DELETE, path, None, None).await
    }

    async fn execute<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<T, StripeError> {
        let started = std::time::Instant::now();
        let operation = operation(&method, path);
        // A client span around every attempt; each attempt sends its W3C context to Stripe.
        let span = tracing::info_span!(
            "stripe.request",
            otel.kind = "client",
            stripe.operation = %operation,
            stripe.outcome = tracing::field::Empty,
        );
        let result = self.execute_with_retries(&method, path, body, idempotency_key).instrument(span.clone()).await;
        let outcome = result.as_ref().map_or_else(StripeError::outcome, |_| "ok");
        span.record("stripe.outcome", outcome);
        if let Some(observe) = &self.observer {
            observe(&operation, outcome, started.elapsed());
        }
        result
    }

    async fn execute_with_retries<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<T, StripeError> {
        let method = method.clone();
        let url = format!("{}/v1/{path}", self.inner.base_url);
        let policy = &self.inner.retry;
        let mut retry = 0;
        loop {
            let failure = match self.attempt(&method, &url, body.as_deref(), idempotency_key).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let retryable = failure.should_retry.unwrap_or_else(|| failure.error.is_retryable());
            if !retryable || retry >= policy.max_retries {
                return Err(failure.error);
            }
            let delay = policy.delay(retry);
            tracing::warn!(
                %method, path, retry = retry + 1, delay_ms = delay.as_millis() as u64,
                idempotency_key = idempotency_key.map(IdempotencyKey::as_str),
                error = %failure.error, "retrying Stripe request"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &str,
        body: Option<&str>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<T, Failure> {
        let mut request =
            platform::telemetry::inject_reqwest(self.http.request(method.clone(), url).timeout(self.inner.timeout));
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key.as_str());
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body.to_owned());
        }
        let response = request.send().await.map_err(transport_failure)?;
        let status = response.status();
        let should_retry = response
            .headers()
            .get("Stripe-Should-Retry")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<bool>().ok());
        let bytes = response.bytes().await.map_err(transport_failure)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| Failure { error: StripeError::Decode(e.to_string()), should_retry: Some(false) });
        }
        let error = StripeError::from_response(status.as_u16(), &bytes);
        if status != StatusCode::PAYMENT_REQUIRED {
            tracing::debug!(status = status.as_u16(), %error, "Stripe answered with an error");
        }
        Err(Failure { error, should_retry })
    }
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let error = if e.is_timeout() { StripeError::Timeout } else { StripeError::Network(e.without_url().to_string()) };
    Failure { error, should_retry: None }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let first = policy.delay(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.delay(2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(policy.delay(30) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(Client::new(ClientConfig::new("ftp://x", "sk_test")).is_err());
        let client = Client::new(ClientConfig::new("http://localhost:12111/", "sk_test")).unwrap();
        assert_eq!(client.config().base_url, "http://localhost:12111");
    }

    #[test]
    fn operations_hide_ids() {
        assert_eq!(operation(&Method::POST, "payment_intents/pi_1/cancel"), "POST payment_intents/{id}/cancel");
        assert_eq!(operation(&Method::GET, "charges/ch_1?expand%5B%5D=refunds"), "GET charges/{id}");
        assert_eq!(operation(&Method::POST, "refunds"), "POST refunds");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let client = Client::new(ClientConfig::new("http://localhost", "sk_test_secret_value")).unwrap();
        assert!(!format!("{client:?}").contains("sk_test_secret_value"));
    }
}
