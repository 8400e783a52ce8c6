//! Transient failures are retried for minutes (through the delayed-retry queues), not five times in
//! a second and a half; poison messages go to the DLQ at once.

use crate::support::{
    count, dlq_listing, pool, pool_via, start_consumer, try_count, wait_for_count, wait_for_queue, Ping, Recorder,
    BROKER,
};
use events::CloudEvent;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::proxy::TcpProxy;
use testkit::{bus, eventually, TestEnv};

/// A handler failing transiently for 10 s (the old budget was 5 deliveries in ~1.5 s) applies
/// the event exactly once in the end, and nothing reaches the DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_longer_than_the_old_budget_applies_once() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let handler = Arc::new(Recorder::default());
    let (stop, task) = start_consumer(&env, &pool, handler.clone(), env.retry_policy());
    wait_for_queue(&env).await;
    let started = Instant::now();
    handler.fail_for(Duration::from_secs(10));
    let events: Vec<CloudEvent> = (0..5).map(|n| CloudEvent::new(&Ping { n }, None).unwrap()).collect();
    for e in &events {
        bus::publish_raw(&env, e).await;
    }
    wait_for_count("every event applied", &pool, "SELECT count(*) AS n FROM effects", 5, Duration::from_secs(40)).await;
    assert!(started.elapsed() >= Duration::from_secs(10), "applied only after the failure ended");
    for e in &events {
        assert!(handler.calls(e.id) > 5, "more attempts than the delivery limit: {}", handler.calls(e.id));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut conn = pool.get().await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(DISTINCT event_id) AS n FROM effects").await, 5);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects").await, 5, "each applied exactly once");
    assert!(dlq_listing(&env).await.is_empty(), "nothing dead-lettered");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// The consumer's database goes away (its connections cut at a TCP proxy; the real PostgreSQL
/// stays up for everyone else) for longer than five deliveries can wait, while events arrive.
/// When it is back, every event is applied exactly once and the DLQ is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_loses_no_event() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let proxy = TcpProxy::for_url(&testkit::database_url()).await;
    let pool = pool_via(&env, &proxy.url(&testkit::database_url())).await;
    let checker = crate::support::pool(&env).await;
    let handler = Arc::new(Recorder::default());
    let (stop, task) = start_consumer(&env, &pool, handler.clone(), env.retry_policy());
    wait_for_queue(&env).await;
    for n in 0..5 {
        bus::publish_raw(&env, &CloudEvent::new(&Ping { n }, None).unwrap()).await;
    }
    let effects = "SELECT count(*) AS n FROM effects";
    wait_for_count("the first events applied", &checker, effects, 5, Duration::from_secs(10)).await;

    proxy.cut();
    // Each attempt waits for the pool's 5 s connection timeout, so five deliveries (the old
    // budget) take about 27 s: stay down longer than that.
    let outage = Duration::from_secs(32);
    let cut_at = Instant::now();
    for n in 5..20 {
        bus::publish_raw(&env, &CloudEvent::new(&Ping { n }, None).unwrap()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(outage.saturating_sub(cut_at.elapsed())).await;
    assert_eq!(try_count(&checker, effects).await, Some(5), "nothing applied during the outage");
    proxy.restore();

    wait_for_count("every event applied", &checker, effects, 20, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(try_count(&checker, "SELECT count(DISTINCT n) AS n FROM effects").await, Some(20));
    assert_eq!(try_count(&checker, effects).await, Some(20), "each applied exactly once");
    assert!(dlq_listing(&env).await.is_empty(), "nothing dead-lettered");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// A poison message (the handler rejects it, or the envelope is not one) is dead-lettered after
/// exactly one delivery, with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_event_goes_to_the_dlq_after_one_delivery() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let handler = Arc::new(Recorder::default());
    let (stop, task) = start_consumer(&env, &pool, handler.clone(), env.retry_policy());
    wait_for_queue(&env).await;
    let poison = CloudEvent::new(&Ping { n: -2 }, None).unwrap();
    bus::publish_raw(&env, &poison).await;
    publish_garbage(&env).await;
    let good = CloudEvent::new(&Ping { n: 1 }, None).unwrap();
    bus::publish_raw(&env, &good).await;
    wait_for_count("the good event applied", &pool, "SELECT count(*) AS n FROM effects", 1, Duration::from_secs(10))
        .await;
    eventually("both poison messages in the DLQ", Duration::from_secs(10), || {
        let env = env.clone();
        async move { (dlq_listing(&env).await.values().sum::<u64>() == 2).then_some(()) }
    })
    .await;
    // Give a wrongly retried copy time to come back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(handler.calls(poison.id), 1, "handled exactly once");
    let listing = dlq_listing(&env).await;
    assert_eq!(listing.get(&("test.ping.v1".into(), "rejected".into())), Some(&1), "{listing:?}");
    assert_eq!(listing.get(&("(unreadable)".into(), "malformed".into())), Some(&1), "{listing:?}");
    assert_eq!(listing.values().sum::<u64>(), 2, "{listing:?}");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// Not an envelope, published to a routing key the consumer is bound to.
async fn publish_garbage(env: &TestEnv) {
    let conn = lapin::Connection::connect(&testkit::amqp_url(), Default::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    ch.basic_publish(
        env.exchange.as_str().into(),
        "test.ping.v1".into(),
        Default::default(),
        b"{not json",
        lapin::BasicProperties::default().with_delivery_mode(2),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(200, "bye".into()).await;
}
