use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::broker::BrokerStatus;
use events::consumer::Consumer;
use events::relay::Relay;
use events::{CloudEvent, DomainEvent, EventHandler, HandlerError, RetryPolicy};
use futures_util::future::BoxFuture;
use platform::db::Pool;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use testkit::TestEnv;
use tokio::sync::watch;

/// Tests that restart the broker take this for writing; the others for reading.
pub static BROKER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ping {
    pub n: i64,
}

impl DomainEvent for Ping {
    const TYPE: &'static str = "test.ping.v1";
    const SOURCE: &'static str = "test";
    fn subject(&self) -> String {
        self.n.to_string()
    }
}

/// A schema with the shared tables and an `effects` table handlers write to.
pub async fn pool(env: &TestEnv) -> Pool {
    pool_via(env, &testkit::database_url()).await
}

/// [`pool`], its connections made to `url` (a proxy in front of the database, say).
pub async fn pool_via(env: &TestEnv, url: &str) -> Pool {
    let schema = env.schema("events");
    let direct = testkit::database_url();
    platform::db::migrate(&direct, &schema, &platform::MIGRATIONS).await.expect("platform migrations");
    platform::db::migrate(&direct, &schema, &events::MIGRATIONS).await.expect("events migrations");
    let pool = platform::db::connect(url, &schema, 8).await.expect("pool");
    {
        let mut conn = pool.get().await.expect("conn");
        diesel::sql_query(
            "CREATE TABLE IF NOT EXISTS effects (id BIGSERIAL PRIMARY KEY, event_id UUID NOT NULL, n BIGINT NOT NULL)",
        )
        .execute(&mut conn)
        .await
        .expect("effects table");
    }
    pool
}

pub fn start_relay(env: &TestEnv, pool: &Pool) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let relay = Relay::new(pool.clone(), &testkit::amqp_url(), &env.exchange, "test", BrokerStatus::default());
    (tx, relay.spawn(rx))
}

#[derive(diesel::QueryableByName)]
pub struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

pub async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).await.expect("count").n
}

/// A second event type, for filtering by type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pong {
    pub n: i64,
}

impl DomainEvent for Pong {
    const TYPE: &'static str = "test.pong.v1";
    const SOURCE: &'static str = "test";
    fn subject(&self) -> String {
        self.n.to_string()
    }
}

/// Records each applied event in `effects` and counts every call. `n = -1` fails transiently
/// forever, `n = -2` is poison, a `Pong` with `n = -3` is not its concern; the test can make every event fail transiently for a while or be
/// rejected.
#[derive(Default)]
pub struct Recorder {
    calls: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, u32>>,
    failing_until: std::sync::Mutex<Option<std::time::Instant>>,
    rejecting: std::sync::atomic::AtomicBool,
}

impl Recorder {
    /// How many times the handler ran for the event `id`.
    pub fn calls(&self, id: uuid::Uuid) -> u32 {
        self.calls.lock().unwrap().get(&id).copied().unwrap_or(0)
    }
    pub fn fail_for(&self, d: std::time::Duration) {
        *self.failing_until.lock().unwrap() = Some(std::time::Instant::now() + d);
    }
    pub fn reject_all(&self, on: bool) {
        self.rejecting.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl EventHandler for Recorder {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec![Ping::TYPE, Pong::TYPE]
    }

    fn concerns(&self, event: &CloudEvent) -> bool {
        !(event.event_type == Pong::TYPE && event.data.get("n").and_then(|n| n.as_i64()) == Some(-3))
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            *self.calls.lock().unwrap().entry(event.id).or_default() += 1;
            #[derive(Deserialize)]
            struct N {
                n: i64,
            }
            let N { n } =
                serde_json::from_value(event.data.clone()).map_err(|e| HandlerError::Reject(e.to_string()))?;
            if n == -1 {
                return Err(HandlerError::Retry("this handler always fails on -1".into()));
            }
            if n == -2 || std::sync::atomic::AtomicBool::load(&self.rejecting, std::sync::atomic::Ordering::SeqCst) {
                return Err(HandlerError::Reject("this event can never apply".into()));
            }
            if self.failing_until.lock().unwrap().is_some_and(|t| std::time::Instant::now() < t) {
                return Err(HandlerError::Retry("a precondition is not met yet".into()));
            }
            diesel::sql_query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
                .bind::<diesel::sql_types::Uuid, _>(event.id)
                .bind::<diesel::sql_types::BigInt, _>(n)
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}

/// Run the consumer of the service `events` with `handler` and `retry` until the sender says stop.
pub fn start_consumer(
    env: &TestEnv,
    pool: &Pool,
    handler: Arc<Recorder>,
    retry: RetryPolicy,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    start_consumer_counted(env, pool, handler, retry, events::metrics::EventMetrics::detached())
}

/// [`start_consumer`], counting into `metrics`.
pub fn start_consumer_counted(
    env: &TestEnv,
    pool: &Pool,
    handler: Arc<Recorder>,
    retry: RetryPolicy,
    metrics: events::metrics::EventMetrics,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let consumer = Consumer {
        pool: pool.clone(),
        amqp_url: testkit::amqp_url(),
        topology: env.topology(),
        service: "events".into(),
        prefetch: 8,
        handler,
        status: BrokerStatus::default(),
        retry,
        metrics,
    };
    (tx, consumer.spawn(rx))
}

/// Wait until the consumer has declared its queue.
pub async fn wait_for_queue(env: &TestEnv) {
    let q = env.topology().queue("events");
    testkit::eventually("the consumer's queue", Duration::from_secs(10), || {
        let q = q.clone();
        async move { testkit::bus::queue_depth(&q).await }
    })
    .await;
}

/// `SELECT count(*) ...` through a fresh pooled connection, `None` while the database is unreachable.
pub async fn try_count(pool: &Pool, sql: &str) -> Option<i64> {
    let mut c = pool.get().await.ok()?;
    diesel::sql_query(sql).get_result::<Count>(&mut c).await.ok().map(|c| c.n)
}

/// Wait until `sql` counts `n`.
pub async fn wait_for_count(what: &str, pool: &Pool, sql: &str, n: i64, timeout: Duration) {
    testkit::eventually(what, timeout, || async { (try_count(pool, sql).await == Some(n)).then_some(()) }).await;
}

/// The DLQ of the service `events`, counted by (event type, reason). Returns once what the
/// listing read is back in the queue (handed back asynchronously when its connection closes).
pub async fn dlq_listing(env: &TestEnv) -> events::dlq::Listing {
    let listing = events::dlq::list(&testkit::amqp_url(), &env.topology(), "events").await.expect("list the DLQ");
    let n: u64 = listing.values().sum();
    let q = env.topology().dead_letter_queue("events");
    testkit::eventually("the listed messages back in the DLQ", Duration::from_secs(10), || {
        let q = q.clone();
        async move { testkit::bus::queue_depth(&q).await.filter(|d| u64::from(*d) >= n) }
    })
    .await;
    listing
}
