use crate::support::{count, pool, Ping, BROKER};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::broker::BrokerStatus;
use events::consumer::Consumer;
use events::{CloudEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use testkit::{bus, eventually, TestEnv};
use tokio::sync::watch;

/// Records each applied event in `effects`; refuses `n < 0` forever (a poison message).
struct Recorder;

impl EventHandler for Recorder {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec!["test.ping.v1"]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let ping: Ping = event.data_as().map_err(HandlerError::Reject)?;
            if ping.n < 0 {
                return Err(HandlerError::Retry("this handler always fails on negative numbers".into()));
            }
            diesel::sql_query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
                .bind::<diesel::sql_types::Uuid, _>(event.id)
                .bind::<diesel::sql_types::BigInt, _>(ping.n)
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}

fn start_consumer(env: &TestEnv, pool: &platform::db::Pool) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let mut topology = env.topology();
    topology.delivery_limit = 3;
    let consumer = Consumer {
        pool: pool.clone(),
        amqp_url: testkit::amqp_url(),
        topology,
        service: "events".into(),
        prefetch: 8,
        handler: Arc::new(Recorder),
        status: BrokerStatus::default(),
    };
    (tx, consumer.spawn(rx))
}

async fn wait_for_queue(env: &TestEnv) {
    let q = env.topology().queue("events");
    eventually("the consumer's queue", Duration::from_secs(10), || {
        let q = q.clone();
        async move { bus::queue_depth(&q).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_event_has_one_effect() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let (stop, task) = start_consumer(&env, &pool);
    wait_for_queue(&env).await;
    let event = CloudEvent::new(&Ping { n: 42 }, None).unwrap();
    bus::publish_raw(&env, &event).await;
    bus::publish_raw(&env, &event).await;
    let mut conn = pool.get().await.unwrap();
    let inbox_sql = format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{}'", event.id);
    eventually("the event in the inbox", Duration::from_secs(10), || {
        let pool = pool.clone();
        let sql = inbox_sql.clone();
        async move {
            let mut c = pool.get().await.ok()?;
            (count(&mut c, &sql).await == 1).then_some(())
        }
    })
    .await;
    // Both copies consumed (acked), still one effect.
    let q = env.topology().queue("events");
    eventually("both copies acked", Duration::from_secs(10), || {
        let q = q.clone();
        async move { (bus::queue_depth(&q).await == Some(0)).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects").await, 1);
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handler_dead_letters_while_others_flow() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let (stop, task) = start_consumer(&env, &pool);
    wait_for_queue(&env).await;
    bus::publish_raw(&env, &CloudEvent::new(&Ping { n: -1 }, None).unwrap()).await;
    for n in 1..=5 {
        bus::publish_raw(&env, &CloudEvent::new(&Ping { n }, None).unwrap()).await;
    }
    eventually("the good events applied", Duration::from_secs(10), || {
        let pool = pool.clone();
        async move {
            let mut c = pool.get().await.ok()?;
            (count(&mut c, "SELECT count(*) AS n FROM effects").await == 5).then_some(())
        }
    })
    .await;
    let dlq = env.topology().dead_letter_queue("events");
    eventually("the poison message in the DLQ", Duration::from_secs(20), || {
        let dlq = dlq.clone();
        async move { (bus::queue_depth(&dlq).await == Some(1)).then_some(()) }
    })
    .await;
    let mut conn = pool.get().await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects WHERE n < 0").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM inbox").await, 5, "the failed event left no inbox row");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}
