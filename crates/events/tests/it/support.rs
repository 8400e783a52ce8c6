use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::broker::BrokerStatus;
use events::relay::Relay;
use events::DomainEvent;
use platform::db::Pool;
use serde::{Deserialize, Serialize};
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
    let url = testkit::database_url();
    let schema = env.schema("events");
    platform::db::migrate(&url, &schema, &platform::MIGRATIONS).await.expect("platform migrations");
    platform::db::migrate(&url, &schema, &events::MIGRATIONS).await.expect("events migrations");
    let pool = platform::db::connect(&url, &schema, 8).await.expect("pool");
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
