use crate::support::{
    count, dlq_listing, pool, start_consumer, start_consumer_counted, wait_for_count, wait_for_queue, Ping, Pong,
    Recorder, BROKER,
};
use events::{CloudEvent, DomainEvent, RetryPolicy};
use std::sync::Arc;
use std::time::Duration;
use testkit::{bus, eventually, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_event_has_one_effect() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let (stop, task) = start_consumer(&env, &pool, Arc::new(Recorder::default()), env.retry_policy());
    wait_for_queue(&env).await;
    let event = CloudEvent::new(&Ping { n: 42 }, None).unwrap();
    bus::publish_raw(&env, &event).await;
    bus::publish_raw(&env, &event).await;
    let mut conn = pool.get().await.unwrap();
    let inbox_sql = format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{}'", event.id);
    wait_for_count("the event in the inbox", &pool, &inbox_sql, 1, Duration::from_secs(10)).await;
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

/// An event the handler says is not its concern is acked without a transaction: no inbox row, no
/// handler call; the events around it are applied as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_is_not_the_services_concern_is_acked_without_an_inbox_row() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let recorder = Arc::new(Recorder::default());
    let metrics = events::metrics::EventMetrics::detached();
    let (stop, task) = start_consumer_counted(&env, &pool, recorder.clone(), env.retry_policy(), metrics.clone());
    wait_for_queue(&env).await;
    let before = CloudEvent::new(&Ping { n: 1 }, None).unwrap();
    let foreign = CloudEvent::new(&Pong { n: -3 }, None).unwrap();
    let after = CloudEvent::new(&Pong { n: 3 }, None).unwrap();
    for event in [&before, &foreign, &after] {
        bus::publish_raw(&env, event).await;
    }
    wait_for_count(
        "the two concerned events applied",
        &pool,
        "SELECT count(*) AS n FROM effects",
        2,
        Duration::from_secs(10),
    )
    .await;
    eventually("the foreign event settled as ignored", Duration::from_secs(10), || async {
        (metrics.consumed.get(&[Pong::TYPE, events::metrics::outcome::IGNORED]) == 1).then_some(())
    })
    .await;
    let mut conn = pool.get().await.unwrap();
    let inbox = |id: uuid::Uuid| format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{id}'");
    assert_eq!(count(&mut conn, &inbox(foreign.id)).await, 0, "no inbox row for an event that changes nothing");
    assert_eq!(recorder.calls(foreign.id), 0, "the handler never saw it");
    assert_eq!(count(&mut conn, &inbox(before.id)).await + count(&mut conn, &inbox(after.id)).await, 2);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects WHERE n = -3").await, 0);
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// A handler that never stops failing transiently is retried until the horizon, then
/// dead-lettered with the reason; the other events flow meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handler_dead_letters_after_the_horizon_while_others_flow() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let handler = Arc::new(Recorder::default());
    let policy =
        RetryPolicy::new(Duration::from_millis(100), Duration::from_millis(400), 2, Duration::from_secs(3)).unwrap();
    let (stop, task) = start_consumer(&env, &pool, handler.clone(), policy);
    wait_for_queue(&env).await;
    let stuck = CloudEvent::new(&Ping { n: -1 }, None).unwrap();
    bus::publish_raw(&env, &stuck).await;
    for n in 1..=5 {
        bus::publish_raw(&env, &CloudEvent::new(&Ping { n }, None).unwrap()).await;
    }
    wait_for_count("the good events applied", &pool, "SELECT count(*) AS n FROM effects", 5, Duration::from_secs(10))
        .await;
    eventually("the stuck event in the DLQ", Duration::from_secs(20), || {
        let env = env.clone();
        async move { (dlq_listing(&env).await.values().sum::<u64>() == 1).then_some(()) }
    })
    .await;
    let listing = dlq_listing(&env).await;
    assert_eq!(listing.get(&("test.ping.v1".into(), "retries_exhausted".into())), Some(&1), "{listing:?}");
    assert!(handler.calls(stuck.id) > 3, "retried for the whole horizon, more than the delivery limit allows");
    let mut conn = pool.get().await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects WHERE n < 0").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM inbox").await, 5, "the failed event left no inbox row");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// Events already waiting when the consumer starts are applied together: several share one
/// transaction (their inbox rows carry its `now()`), and a copy of one of them in the same batch
/// has no second effect. An event that fails among waiting ones fails its batch as a whole, which
/// is then applied one event per transaction: the others commit, the failing one alone is retried
/// and leaves no inbox row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_events_share_a_transaction_and_a_failure_among_them_stays_its_own() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let recorder = Arc::new(Recorder::default());
    let metrics = events::metrics::EventMetrics::detached();
    let start = || start_consumer_counted(&env, &pool, recorder.clone(), env.retry_policy(), metrics.clone());
    // The queue exists, nobody consumes: what is published now waits in it together.
    let stopped_consumer = || async {
        let (stop, task) = start();
        wait_for_queue(&env).await;
        stop.send(true).unwrap();
        task.await.unwrap();
    };
    stopped_consumer().await;
    let waiting: Vec<CloudEvent> = (1..=6).map(|n| CloudEvent::new(&Ping { n }, None).unwrap()).collect();
    for event in &waiting {
        bus::publish_raw(&env, event).await;
    }
    bus::publish_raw(&env, &waiting[0]).await;
    let (stop, task) = start();
    wait_for_count(
        "the waiting events applied",
        &pool,
        "SELECT count(*) AS n FROM effects",
        6,
        Duration::from_secs(10),
    )
    .await;
    let q = env.topology().queue("events");
    eventually("every copy acked", Duration::from_secs(10), || {
        let q = q.clone();
        async move { (bus::queue_depth(&q).await == Some(0)).then_some(()) }
    })
    .await;
    let mut conn = pool.get().await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects").await, 6, "the copy had no second effect");
    let transactions = count(&mut conn, "SELECT count(DISTINCT processed_at) AS n FROM inbox").await;
    assert!(transactions < 6, "six waiting events took {transactions} transactions: none shared one");
    assert!(metrics.batches.get(&["together"]) >= 1);
    assert_eq!(metrics.batches.get(&["split"]), 0);
    stop.send(true).unwrap();
    task.await.unwrap();

    // A stuck event among waiting ones.
    let stuck = CloudEvent::new(&Ping { n: -1 }, None).unwrap();
    let more: Vec<CloudEvent> = (7..=10).map(|n| CloudEvent::new(&Ping { n }, None).unwrap()).collect();
    bus::publish_raw(&env, &more[0]).await;
    bus::publish_raw(&env, &stuck).await;
    for event in &more[1..] {
        bus::publish_raw(&env, event).await;
    }
    let (stop, task) = start();
    wait_for_count("the others applied", &pool, "SELECT count(*) AS n FROM effects", 10, Duration::from_secs(10)).await;
    eventually("the stuck event tried", Duration::from_secs(10), || async {
        (recorder.calls(stuck.id) >= 1).then_some(())
    })
    .await;
    for event in &more {
        let sql = format!("SELECT count(*) AS n FROM effects WHERE event_id = '{}'", event.id);
        assert_eq!(count(&mut conn, &sql).await, 1, "each of the others applied once");
    }
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM effects WHERE n < 0").await, 0);
    let stuck_inbox = format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{}'", stuck.id);
    assert_eq!(count(&mut conn, &stuck_inbox).await, 0, "the failed event left no inbox row");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}
