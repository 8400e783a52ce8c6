//! Configuration from the environment through `envy`.
//!
//! envy stops at the first bad variable; operators want to hear about all of them at once, so
//! [`load`] retries with placeholders for each missing or invalid variable and reports the full list.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::fmt;

/// A secret value (key, password, webhook secret). Its `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The only way to read the value: grep for `expose` to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Every problem found in the environment, each naming its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Load `T` from variables named `<PREFIX><FIELD>` (e.g. `BILLING_DATABASE_URL`).
pub fn load<T: DeserializeOwned>(prefix: &str) -> Result<T, ConfigError> {
    load_from(prefix, std::env::vars())
}

/// Same as [`load`], from an explicit set of variables (tests).
pub fn load_from<T: DeserializeOwned>(
    prefix: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut env: HashMap<String, String> = vars.into_iter().collect();
    let mut problems = Vec::new();
    // Placeholders that satisfy the common field types, tried in turn, so that the next problem
    // can surface. Bounded: each variable is patched at most PLACEHOLDERS.len() times.
    const PLACEHOLDERS: [&str; 3] = ["1", "true", "x"];
    let mut attempts: HashMap<String, usize> = HashMap::new();
    for _ in 0..64 {
        match envy::prefixed(prefix).from_iter::<_, T>(env.clone()) {
            Ok(value) if problems.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(err) => {
                let Some((var, message)) = describe(prefix, &err, &env) else {
                    problems.push(err.to_string());
                    break;
                };
                let tries = attempts.entry(var.clone()).or_insert(0);
                if *tries == 0 {
                    problems.push(message);
                }
                if *tries >= PLACEHOLDERS.len() {
                    break;
                }
                env.insert(var, PLACEHOLDERS[*tries].to_string());
                *tries += 1;
            }
        }
    }
    Err(ConfigError { problems })
}

fn describe(prefix: &str, err: &envy::Error, env: &HashMap<String, String>) -> Option<(String, String)> {
    match err {
        envy::Error::MissingValue(field) => {
            let var = format!("{prefix}{}", field.to_uppercase());
            Some((var.clone(), format!("{var} is required but not set")))
        }
        envy::Error::Custom(message) => {
            // envy's message ends with "provided by <KEY>" (lower case, without the prefix).
            let key = message.rsplit("provided by ").next()?.trim();
            let upper = key.to_uppercase();
            let var = if upper.starts_with(prefix) { upper } else { format!("{prefix}{upper}") };
            if !env.contains_key(&var) {
                return None;
            }
            // Never echo the value: it may be a secret.
            let reason = message.split(" while parsing").next().unwrap_or("invalid value");
            Some((var.clone(), format!("{var} is invalid: {reason}")))
        }
    }
}

/// The settings every service has. Loaded with the service's prefix beside its own struct.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceConfig {
    pub database_url: Secret,
    /// The service's PostgreSQL schema; tests use a fresh one each.
    pub database_schema: Option<String>,
    #[serde(default = "default_pool_size")]
    pub database_pool_size: u32,
    /// How long a request waits for a free pooled connection before it is answered 503 with
    /// `Retry-After` (`platform::db::connect_with_wait`). The default, 9 s, is just inside the
    /// gateway's 10 s upstream deadline: under a burst a request queues for a connection rather
    /// than failing fast, and still gets this service's documented answer, not the gateway's 504.
    #[serde(default = "default_pool_wait_ms")]
    pub database_pool_wait_ms: u64,
    /// `sslmode` for the database (disable, prefer, require, verify-ca, verify-full); wins over
    /// the URL's own `sslmode` (`platform::db_tls`). Unset: the URL's, else `disable`.
    pub database_sslmode: Option<String>,
    /// PEM file of the CA(s) the database's certificate must chain to (`sslrootcert`).
    pub database_sslrootcert: Option<String>,
    pub amqp_url: Secret,
    /// PEM file of the CA(s) an `amqps://` broker's certificate must chain to; wins over the URL's
    /// `cacertfile` (`events::broker`). Unset: the system's trust store.
    pub amqp_ca_file: Option<String>,
    #[serde(default = "default_exchange")]
    pub events_exchange: String,
    /// Prefix for queue names, so parallel tests never share a queue.
    #[serde(default)]
    pub queue_prefix: String,
    #[serde(default = "default_host")]
    pub host: String,
    pub port: u16,
    /// Port of the Prometheus `/metrics` listener, apart from the API (0 = any free port, for
    /// tests). Unset: no metrics listener.
    pub metrics_port: Option<u16>,
    /// Seconds between two computations of the business gauges from the database (scrapes in
    /// between serve the last values).
    #[serde(default = "default_business_metrics_secs")]
    pub business_metrics_secs: u64,
    pub internal_token_secret: Secret,
    /// During a rotation: the old secret, still accepted.
    pub internal_token_previous_secret: Option<Secret>,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default = "default_http_workers")]
    pub http_workers: usize,
    /// Seconds the whole shutdown (in-flight requests, consumers, outbox flush) may take after
    /// SIGTERM. Must stay below the pod's `terminationGracePeriodSeconds` (30) minus the preStop
    /// sleep (5), or the kubelet kills the process mid-drain.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// Seconds between SIGTERM and closing the listener, during which requests are still served
    /// but readiness answers 503, so load balancers that follow readiness stop routing here. 0 on
    /// Kubernetes, whose preStop sleep does this job.
    #[serde(default)]
    pub shutdown_delay_secs: u64,
    /// Delay before an event whose handler failed transiently is tried again (doubling, see
    /// `events::retry`); tests shorten the whole schedule.
    #[serde(default = "default_event_retry_initial_ms")]
    pub event_retry_initial_ms: u64,
    /// Cap of that delay.
    #[serde(default = "default_event_retry_max_ms")]
    pub event_retry_max_ms: u64,
    /// Growth factor of the delay from one retry to the next (1 = fixed delay).
    #[serde(default = "default_event_retry_multiplier")]
    pub event_retry_multiplier: u32,
    /// How long after its first failure an event keeps being retried before it is dead-lettered.
    #[serde(default = "default_event_retry_horizon_secs")]
    pub event_retry_horizon_secs: u64,
    /// Seconds between two runs of the retention job (`platform::retention`).
    #[serde(default = "default_retention_interval_secs")]
    pub retention_interval_secs: u64,
    /// Rows deleted per statement by the retention job: small enough that no lock is long.
    #[serde(default = "default_retention_batch_size")]
    pub retention_batch_size: i64,
    /// Hours a published outbox row is kept (for replaying or inspecting what was sent).
    #[serde(default = "default_retention_outbox_hours")]
    pub retention_outbox_hours: u64,
    /// Hours an inbox row is kept: it must outlive every redelivery of its event (retries, and an
    /// operator's replay from the dead-letter queue), or a late duplicate would apply twice.
    #[serde(default = "default_retention_inbox_hours")]
    pub retention_inbox_hours: u64,
    /// Hours an idempotency key is kept (at least 24, the API's promise).
    #[serde(default = "default_retention_idempotency_hours")]
    pub retention_idempotency_hours: u64,
}

impl ServiceConfig {
    /// The database URL with `<SVC>_DATABASE_SSLMODE` and `_SSLROOTCERT` applied: what
    /// `platform::db::connect` and `migrate` are given.
    pub fn database_connect_url(&self) -> Secret {
        Secret::new(crate::db_tls::with_tls_params(
            self.database_url.expose(),
            self.database_sslmode.as_deref(),
            self.database_sslrootcert.as_deref(),
        ))
    }

    /// The broker URL with `<SVC>_AMQP_CA_FILE` applied (as its `cacertfile` parameter).
    pub fn amqp_connect_url(&self) -> Secret {
        match &self.amqp_ca_file {
            None => self.amqp_url.clone(),
            Some(file) => Secret::new(with_query_param(self.amqp_url.expose(), "cacertfile", file)),
        }
    }
}

/// `url` with `key=value` set in its query string (an existing `key` is replaced).
pub fn with_query_param(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let prefix = format!("{key}=");
    let mut pairs: Vec<String> =
        query.split('&').filter(|p| !p.is_empty() && *p != key && !p.starts_with(&prefix)).map(String::from).collect();
    pairs.push(format!("{key}={}", form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()));
    format!("{base}?{}", pairs.join("&"))
}

fn default_retention_interval_secs() -> u64 {
    3600
}
fn default_retention_batch_size() -> i64 {
    1000
}
fn default_retention_outbox_hours() -> u64 {
    7 * 24
}
fn default_retention_inbox_hours() -> u64 {
    30 * 24
}
fn default_retention_idempotency_hours() -> u64 {
    48
}

fn default_shutdown_grace_secs() -> u64 {
    crate::server::SHUTDOWN_GRACE_SECS
}

fn default_business_metrics_secs() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

fn default_pool_size() -> u32 {
    10
}
fn default_pool_wait_ms() -> u64 {
    crate::db::DEFAULT_POOL_WAIT.as_millis() as u64
}
fn default_exchange() -> String {
    "monetization.events".into()
}
fn default_host() -> String {
    "127.0.0.1".into()
}
/// One HTTP worker per CPU the process may use: Rust counts the container's CPU limit (the cgroup
/// quota), so a 1-vCPU pod runs one. A second worker on one CPU only adds cross-thread wake-ups
/// (the pool's connections and the other worker's requests wake each other): on the bench
/// machine one worker per service cost 12-23 % less CPU per read (docs/performance.md, round 10).
pub fn default_http_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
fn default_event_retry_initial_ms() -> u64 {
    1_000
}
fn default_event_retry_max_ms() -> u64 {
    60_000
}
fn default_event_retry_multiplier() -> u32 {
    2
}
fn default_event_retry_horizon_secs() -> u64 {
    3_600
}

/// Load the common settings and the service's own struct together, reporting every problem in both.
pub fn load_service<T: DeserializeOwned>(prefix: &str) -> Result<(ServiceConfig, T), ConfigError> {
    let common = load::<ServiceConfig>(prefix);
    let own = load::<T>(prefix);
    match (common, own) {
        (Ok(c), Ok(o)) => Ok((c, o)),
        (c, o) => {
            let mut problems = Vec::new();
            for err in [c.err(), o.err()].into_iter().flatten() {
                for p in err.problems {
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
            }
            Err(ConfigError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        url: String,
        port: u16,
        verbose: bool,
        token: Secret,
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn names_every_missing_and_invalid_variable() {
        let err =
            load_from::<Sample>("APP_", vars(&[("APP_PORT", "http"), ("APP_VERBOSE", "yes")])).expect_err("must fail");
        let all = err.problems.join("\n");
        assert!(all.contains("APP_URL is required"), "{all}");
        assert!(all.contains("APP_PORT is invalid"), "{all}");
        assert!(all.contains("APP_VERBOSE is invalid"), "{all}");
        assert!(all.contains("APP_TOKEN is required"), "{all}");
        assert_eq!(err.problems.len(), 4, "{all}");
    }

    #[test]
    fn tls_settings_go_into_the_connection_urls() {
        let base = [
            ("SVC_DATABASE_URL", "postgres://u@db/app?sslmode=prefer"),
            ("SVC_AMQP_URL", "amqps://u:p@mq/%2f?heartbeat=10"),
            ("SVC_PORT", "1"),
            ("SVC_INTERNAL_TOKEN_SECRET", "s"),
        ];
        let cfg = load_from::<ServiceConfig>("SVC_", vars(&base)).expect("defaults");
        assert_eq!(cfg.database_connect_url().expose(), "postgres://u@db/app?sslmode=prefer");
        assert_eq!(cfg.amqp_connect_url().expose(), "amqps://u:p@mq/%2f?heartbeat=10");
        let mut all = base.to_vec();
        all.extend([
            ("SVC_DATABASE_SSLMODE", "verify-full"),
            ("SVC_DATABASE_SSLROOTCERT", "/etc/pg-ca/ca.crt"),
            ("SVC_AMQP_CA_FILE", "/etc/amqp-ca/ca.crt"),
        ]);
        let cfg = load_from::<ServiceConfig>("SVC_", vars(&all)).expect("tls settings");
        assert_eq!(
            cfg.database_connect_url().expose(),
            "postgres://u@db/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg-ca%2Fca.crt"
        );
        assert_eq!(
            cfg.amqp_connect_url().expose(),
            "amqps://u:p@mq/%2f?heartbeat=10&cacertfile=%2Fetc%2Famqp-ca%2Fca.crt"
        );
    }

    #[test]
    fn event_retry_knobs_have_long_defaults_and_can_be_shortened() {
        let base = [
            ("SVC_DATABASE_URL", "postgres://x"),
            ("SVC_AMQP_URL", "amqp://x"),
            ("SVC_PORT", "1"),
            ("SVC_INTERNAL_TOKEN_SECRET", "s"),
        ];
        let cfg = load_from::<ServiceConfig>("SVC_", vars(&base)).expect("defaults");
        assert_eq!(
            (
                cfg.event_retry_initial_ms,
                cfg.event_retry_multiplier,
                cfg.event_retry_max_ms,
                cfg.event_retry_horizon_secs
            ),
            (1_000, 2, 60_000, 3_600)
        );
        let mut short = base.to_vec();
        short.extend([
            ("SVC_EVENT_RETRY_INITIAL_MS", "50"),
            ("SVC_EVENT_RETRY_MULTIPLIER", "3"),
            ("SVC_EVENT_RETRY_MAX_MS", "500"),
            ("SVC_EVENT_RETRY_HORIZON_SECS", "20"),
        ]);
        let cfg = load_from::<ServiceConfig>("SVC_", vars(&short)).expect("shortened");
        assert_eq!(
            (
                cfg.event_retry_initial_ms,
                cfg.event_retry_multiplier,
                cfg.event_retry_max_ms,
                cfg.event_retry_horizon_secs
            ),
            (50, 3, 500, 20)
        );
    }

    #[test]
    fn loads_valid_config_and_hides_secrets() {
        let cfg = load_from::<Sample>(
            "APP_",
            vars(&[("APP_URL", "u"), ("APP_PORT", "80"), ("APP_VERBOSE", "true"), ("APP_TOKEN", "s3cr3t")]),
        )
        .expect("valid");
        assert_eq!(cfg.port, 80);
        assert!(cfg.verbose);
        assert_eq!(cfg.url, "u");
        assert_eq!(cfg.token.expose(), "s3cr3t");
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
    }
}
