//! Settings of the fake, from the environment for the binary or built directly by tests.

use std::fmt;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 12111;
/// Development-only credentials: the fake is never deployed, and these values are public on purpose.
pub const DEV_API_KEY: &str = "sk_test_dev_only";
pub const DEV_WEBHOOK_SECRET: &str = "whsec_dev_only_not_a_secret";

#[derive(Clone)]
pub struct FakeConfig {
    /// Listen address. Loopback by default: the `/_fake` control API is unauthenticated, so only a
    /// container (compose, the dev overlay) opts into all interfaces with `STRIPE_FAKE_HOST=0.0.0.0`.
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Accepted secret keys. Idempotency keys are scoped per API key.
    pub api_keys: Vec<String>,
    /// Where events are POSTed; `None` stores events without delivering them.
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    pub webhook_retry: WebhookRetry,
    /// actix workers; one is plenty for a test double.
    pub workers: usize,
}

/// Redelivery of a webhook answered with non-2xx or not answered at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Per attempt.
    pub timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            api_keys: vec![DEV_API_KEY.to_owned()],
            webhook_url: None,
            webhook_secret: DEV_WEBHOOK_SECRET.to_owned(),
            webhook_retry: WebhookRetry::default(),
            workers: 1,
        }
    }
}

impl fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("api_keys", &format_args!("[{} redacted]", self.api_keys.len()))
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"***")
            .field("webhook_retry", &self.webhook_retry)
            .field("workers", &self.workers)
            .finish()
    }
}

impl FakeConfig {
    /// Loopback, a free port, fast webhook retries: what an in-process test wants.
    pub fn for_tests() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            webhook_retry: WebhookRetry {
                max_attempts: 4,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(400),
                timeout: Duration::from_secs(2),
            },
            ..Self::default()
        }
    }

    /// `STRIPE_FAKE_HOST`, `STRIPE_FAKE_PORT`, `STRIPE_FAKE_API_KEY` (comma-separated for several),
    /// `STRIPE_FAKE_WEBHOOK_URL`, `STRIPE_FAKE_WEBHOOK_SECRET`; unset means the development default.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut config = Self::default();
        if let Some(host) = get("STRIPE_FAKE_HOST") {
            config.host = host;
        }
        if let Some(port) = get("STRIPE_FAKE_PORT") {
            config.port = port.parse().map_err(|_| format!("STRIPE_FAKE_PORT is not a port: {port:?}"))?;
        }
        if let Some(keys) = get("STRIPE_FAKE_API_KEY") {
            config.api_keys = keys.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
        }
        config.webhook_url = get("STRIPE_FAKE_WEBHOOK_URL");
        if let Some(secret) = get("STRIPE_FAKE_WEBHOOK_SECRET") {
            config.webhook_secret = secret;
        }
        Ok(config)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_defaults() {
        let defaults = FakeConfig::from_lookup(|_| None).unwrap();
        assert_eq!(defaults.port, 12111);
        assert_eq!(defaults.host, "127.0.0.1", "the unauthenticated control API stays on loopback by default");
        let exposed = FakeConfig::from_lookup(|n| (n == "STRIPE_FAKE_HOST").then(|| "0.0.0.0".into())).unwrap();
        assert_eq!(exposed.host, "0.0.0.0");
        assert_eq!(defaults.api_keys, vec!["sk_test_dev_only"]);
        assert_eq!(defaults.webhook_secret, "whsec_dev_only_not_a_secret");
        assert_eq!(defaults.webhook_url, None);
        let config = FakeConfig::from_lookup(|name| {
            Some(match name {
                "STRIPE_FAKE_PORT" => "9999".into(),
                "STRIPE_FAKE_API_KEY" => "sk_a, sk_b".into(),
                "STRIPE_FAKE_WEBHOOK_URL" => "http://billing:8081/webhooks/stripe".into(),
                "STRIPE_FAKE_WEBHOOK_SECRET" => "whsec_x".into(),
                _ => return None,
            })
        })
        .unwrap();
        assert_eq!(config.port, 9999);
        assert_eq!(config.api_keys, vec!["sk_a", "sk_b"]);
        assert_eq!(config.webhook_url.as_deref(), Some("http://billing:8081/webhooks/stripe"));
        assert!(!format!("{config:?}").contains("whsec_x"));
        assert!(FakeConfig::from_lookup(|n| (n == "STRIPE_FAKE_PORT").then(|| "x".into())).is_err());
    }
}
