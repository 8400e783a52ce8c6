//! `outbox replay`: a producer's published events since a time, again, to ONE consumer's queue
//! (the last step of restoring that consumer from a backup).

use crate::support::{count, pool, start_relay, Ping, BROKER};
use diesel_async::{AsyncConnection, RunQueryDsl};
use events::CloudEvent;
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use std::time::Duration;
use testkit::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_published_events_since_a_time_to_one_queue_in_order() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut conn = pool.get().await.unwrap();
    let mut written = Vec::new();
    for n in 0..5 {
        written.push(conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n }).await).await.unwrap());
    }
    let (stop, relay) = start_relay(&env, &pool);
    testkit::eventually("the relay published them", Duration::from_secs(15), || {
        let pool = pool.clone();
        async move {
            let mut c = pool.get().await.ok()?;
            (count(&mut c, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await == 0).then_some(())
        }
    })
    .await;
    stop.send(true).unwrap();
    relay.await.unwrap();
    // One older than the replay's start, one the relay has not published yet: neither is replayed.
    diesel::sql_query(format!(
        "UPDATE outbox SET created_at = now() - interval '2 days' WHERE event_id = '{}'",
        written[0].id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n: 99 }).await).await.unwrap();

    // The target service's queue, as its consumer declares it; and another consumer's, which must get nothing.
    let amqp = Connection::connect(&testkit::amqp_url(), ConnectionProperties::default()).await.unwrap();
    let channel = amqp.create_channel().await.unwrap();
    let topology = env.topology();
    topology.declare_service_queue(&channel, "target", &[]).await.unwrap();
    topology.declare_service_queue(&channel, "other", &["test.#"]).await.unwrap();

    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let report =
        events::replay::outbox_to_queue(&pool, &testkit::amqp_url(), &topology, "test", "target", since).await.unwrap();
    assert_eq!(report.published, 4);
    let queue = topology.queue("target");
    let mut got = Vec::new();
    while let Some(m) = channel.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true }).await.unwrap() {
        let event: CloudEvent = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(m.delivery.properties.message_id().as_ref().map(|s| s.to_string()), Some(event.id.to_string()));
        got.push(event);
    }
    let ids: Vec<_> = got.iter().map(|e| e.id).collect();
    assert_eq!(ids, written[1..].iter().map(|e| e.id).collect::<Vec<_>>(), "the same events, same ids, in order");
    assert_eq!(testkit::bus::queue_depth(&topology.queue("other")).await, Some(0), "only the target's queue");

    // A queue that does not exist is an error, never a silent drop.
    let missing =
        events::replay::outbox_to_queue(&pool, &testkit::amqp_url(), &topology, "test", "nobody", since).await;
    assert!(missing.is_err(), "{missing:?}");

    for q in [topology.queue("target"), topology.queue("other")] {
        let _ = channel.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await;
    }
    let _ = amqp.close(200, "bye".into()).await;
    env.cleanup(&["events", "target", "other"]).await;
}
