//! Test helpers: isolated environments (fresh schema, own exchange and queue prefix), JWTs signed
//! with the committed test keys, event capture, and polling with a deadline instead of sleeps.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod bus;
pub mod erasure;
pub mod jwt;
pub mod pdf;
pub mod plan;
pub mod privacy;
pub mod proxy;
pub mod schema;
pub mod service;
pub mod test_clocks;
pub mod tls;

use platform::config::{LogFormat, Secret, ServiceConfig};
use std::future::Future;
use std::time::{Duration, Instant};

pub const INTERNAL_SECRET: &str = "test-internal-secret-not-for-production";

pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Retries in tests: 100 ms doubling to 1 s, for two minutes (a handler waiting for an event that
/// overtook another gets it quickly; a test outage of some seconds is ridden out).
pub const TEST_RETRY: events::RetryPolicy = events::RetryPolicy {
    initial: Duration::from_millis(100),
    max: Duration::from_millis(1000),
    multiplier: 2,
    horizon: Duration::from_secs(120),
};

/// One test's private corner of the shared PostgreSQL and RabbitMQ.
#[derive(Debug, Clone)]
pub struct TestEnv {
    pub id: String,
    pub exchange: String,
    pub queue_prefix: String,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        init_logs();
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        Self { exchange: format!("test.{id}.events"), queue_prefix: format!("test.{id}."), id }
    }

    /// A fresh schema name for `service` in this test.
    pub fn schema(&self, service: &str) -> String {
        format!("t_{}_{}", service, self.id)
    }

    /// Config for `service` on a random port in its own schema, exchange and queues.
    pub fn service_config(&self, service: &str) -> ServiceConfig {
        ServiceConfig {
            database_url: Secret::new(database_url()),
            database_schema: Some(self.schema(service)),
            database_pool_size: 8,
            database_pool_wait_ms: platform::db::DEFAULT_POOL_WAIT.as_millis() as u64,
            database_sslmode: None,
            database_sslrootcert: None,
            amqp_url: Secret::new(amqp_url()),
            amqp_ca_file: None,
            events_exchange: self.exchange.clone(),
            queue_prefix: self.queue_prefix.clone(),
            host: "127.0.0.1".into(),
            port: 0,
            metrics_port: Some(0),
            business_metrics_secs: 0,
            internal_token_secret: Secret::new(INTERNAL_SECRET),
            internal_token_previous_secret: None,
            log_format: LogFormat::Pretty,
            http_workers: 1,
            shutdown_grace_secs: 10,
            shutdown_delay_secs: 0,
            event_retry_initial_ms: TEST_RETRY.initial.as_millis() as u64,
            event_retry_max_ms: TEST_RETRY.max.as_millis() as u64,
            event_retry_multiplier: TEST_RETRY.multiplier,
            event_retry_horizon_secs: TEST_RETRY.horizon.as_secs(),
            // The retention job's first run is an interval away: tests run it themselves.
            retention_interval_secs: 3600,
            retention_batch_size: 1000,
            retention_outbox_hours: 7 * 24,
            retention_inbox_hours: 30 * 24,
            retention_idempotency_hours: 48,
        }
    }

    /// The consumers' retry schedule in tests ([`TEST_RETRY`]).
    pub fn retry_policy(&self) -> events::RetryPolicy {
        TEST_RETRY.clone()
    }

    pub fn topology(&self) -> events::topology::Topology {
        events::topology::Topology::new(&self.exchange, &self.queue_prefix)
    }

    /// Drop this test's schemas and broker objects (best effort; leftovers are harmless).
    pub async fn cleanup(&self, services: &[&str]) {
        if let Ok(mut conn) =
            <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&database_url()).await
        {
            for s in services {
                let _ = diesel_async::RunQueryDsl::execute(
                    diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema(s))),
                    &mut conn,
                )
                .await;
            }
        }
        bus::delete_all(self, services).await;
    }
}

/// Logs for failing tests: `RUST_LOG=debug cargo test` shows them.
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var("RUST_LOG").is_ok() {
            std::mem::forget(platform::telemetry::init("test", LogFormat::Pretty));
        }
    });
}

/// Poll `check` until it returns `Some`, or panic after `timeout` with `what`. A check that
/// itself never returns (a request or a broker call with no reply) counts against the same
/// deadline, so a hang fails the test by name instead of stalling the run.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(25));
        match tokio::time::timeout(left, check()).await {
            Ok(Some(v)) => return v,
            Ok(None) => {}
            Err(_) => panic!("timed out after {timeout:?} waiting for {what} (a check did not return)"),
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An internal token for calling `service` directly, as the gateway would.
pub fn internal_token(service: &str, sub: &str, roles: &[platform::auth::Role]) -> String {
    let auth = platform::auth::InternalAuth::new(&Secret::new(INTERNAL_SECRET), "gateway");
    auth.mint(service, sub, roles, None, None).expect("mint")
}

/// An internal token as `service:<caller>` for internal endpoints.
pub fn service_token(caller: &str, target: &str) -> String {
    platform::auth::InternalAuth::new(&Secret::new(INTERNAL_SECRET), caller).mint_service(target).expect("mint")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}
