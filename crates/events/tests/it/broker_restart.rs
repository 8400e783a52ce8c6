use crate::support::{count, pool, start_relay, Ping, BROKER};
use diesel_async::AsyncConnection;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use std::time::Duration;
use testkit::{bus, eventually, TestEnv};

/// Events committed while RabbitMQ is down are delivered once it is back; none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_while_broker_is_down_arrive_after_restart() {
    let _exclusive = BROKER.write().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    // A durable quorum queue bound before the outage, so it outlives the restart.
    let conn = lapin::Connection::connect(&testkit::amqp_url(), Default::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    env.topology().declare_service_queue(&ch, "probe", &["test.ping.v1"]).await.unwrap();
    drop(ch);
    let _ = conn.close(200, "bye".into()).await;

    let (stop, relay) = start_relay(&env, &pool);
    bus::rabbitmqctl(&["-q", "stop_app"]);
    let mut db = pool.get().await.unwrap();
    for n in 0..10 {
        db.transaction(async |c| events::outbox::enqueue(c, &Ping { n }).await).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pending = count(&mut db, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await;
    bus::rabbitmqctl(&["-q", "start_app"]);
    assert_eq!(pending, 10, "nothing can be marked sent while the broker is down");

    eventually("the relay to drain the outbox", Duration::from_secs(30), || {
        let pool = pool.clone();
        async move {
            let mut c = pool.get().await.ok()?;
            (count(&mut c, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await == 0).then_some(())
        }
    })
    .await;

    let conn = lapin::Connection::connect(&testkit::amqp_url(), Default::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            env.topology().queue("probe").as_str().into(),
            "check".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 10 {
        let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .expect("all 10 events")
            .unwrap()
            .unwrap();
        let e: events::CloudEvent = serde_json::from_slice(&d.data).unwrap();
        seen.insert(e.data_as::<Ping>().unwrap().n);
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(seen, (0..10).collect());
    let _ = conn.close(200, "bye".into()).await;
    stop.send(true).unwrap();
    relay.await.unwrap();
    env.cleanup(&["events", "probe"]).await;
}
