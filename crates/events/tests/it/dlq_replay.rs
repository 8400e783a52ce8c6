//! The operator's `<service> dlq list` and `<service> dlq replay [--type T] [--limit N]`.

use crate::support::{
    count, dlq_listing, pool, start_consumer, wait_for_count, wait_for_queue, Ping, Pong, Recorder, BROKER,
};
use events::CloudEvent;
use runtime::cli::{parse, run_dlq, Command};
use std::sync::Arc;
use std::time::Duration;
use testkit::{bus, eventually, TestEnv};

/// Run `<service> dlq ...`, then wait until the DLQ holds `expect_left` messages again (what the
/// command read and left is handed back when its connection closes, asynchronously).
async fn dlq(env: &TestEnv, args: &str, expect_left: u32) -> String {
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let Ok(Command::Dlq(command)) = parse(&args) else { panic!("not a dlq command: {args:?}") };
    let out = run_dlq("events", &env.service_config("events"), &command).await.expect("the dlq command");
    let q = env.topology().dead_letter_queue("events");
    eventually("the DLQ settled", Duration::from_secs(10), || {
        let q = q.clone();
        async move { (bus::queue_depth(&q).await == Some(expect_left)).then_some(()) }
    })
    .await;
    out
}

/// Dead-lettered events of two types; the cause is fixed; replaying one type moves only those
/// back to the service's own queue (never to the exchange: a second subscriber sees nothing),
/// they are applied once, and replaying again is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_moves_dead_letters_back_by_type_and_they_apply_once() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let handler = Arc::new(Recorder::default());
    let (stop, task) = start_consumer(&env, &pool, handler.clone(), env.retry_policy());
    wait_for_queue(&env).await;
    let mut other_subscriber = bus::Capture::bind(&env, &["test.#"]).await;

    handler.reject_all(true);
    let pings: Vec<CloudEvent> = (0..3).map(|n| CloudEvent::new(&Ping { n }, None).unwrap()).collect();
    let pongs: Vec<CloudEvent> = (10..12).map(|n| CloudEvent::new(&Pong { n }, None).unwrap()).collect();
    for e in pings.iter().chain(&pongs) {
        bus::publish_raw(&env, e).await;
    }
    eventually("five dead letters", Duration::from_secs(10), || {
        let env = env.clone();
        async move { (dlq_listing(&env).await.values().sum::<u64>() == 5).then_some(()) }
    })
    .await;
    assert_eq!(other_subscriber.drain(Duration::from_millis(500)).await.len(), 5, "the original publications");
    let listed = dlq(&env, "dlq list", 5).await;
    assert!(listed.contains("5 message(s)"), "{listed}");
    assert!(listed.contains("3  test.ping.v1  (rejected)"), "{listed}");
    assert!(listed.contains("2  test.pong.v1  (rejected)"), "{listed}");

    // The fix is deployed.
    handler.reject_all(false);
    let out = dlq(&env, "dlq replay --type test.ping.v1 --limit 2", 3).await;
    assert!(out.starts_with("moved 2 message(s)"), "{out}");
    assert!(out.contains("; 3 left in"), "{out}");
    let out = dlq(&env, "dlq replay --type test.ping.v1", 2).await;
    assert!(out.starts_with("moved 1 message(s)") && out.contains("; 2 left in"), "{out}");
    let effects = "SELECT count(*) AS n FROM effects";
    wait_for_count("the pings applied", &pool, effects, 3, Duration::from_secs(10)).await;
    let listing = dlq_listing(&env).await;
    assert_eq!(listing.len(), 1, "only the pongs are left: {listing:?}");
    assert_eq!(listing.get(&("test.pong.v1".into(), "rejected".into())), Some(&2), "{listing:?}");

    let out = dlq(&env, "dlq replay", 0).await;
    assert!(out.starts_with("moved 2 message(s)") && out.contains("; 0 left in"), "{out}");
    wait_for_count("the pongs applied", &pool, effects, 5, Duration::from_secs(10)).await;
    let out = dlq(&env, "dlq replay", 0).await;
    assert!(out.starts_with("moved 0 message(s)"), "{out}");

    // A replayed event that was applied already (a second copy) has no second effect.
    bus::publish_raw(&env, &pings[0]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut conn = pool.get().await.unwrap();
    assert_eq!(count(&mut conn, effects).await, 5, "each applied exactly once");
    assert_eq!(count(&mut conn, "SELECT count(DISTINCT event_id) AS n FROM effects").await, 5);
    for e in &pings {
        assert_eq!(handler.calls(e.id), 2, "rejected once, applied once after the replay");
    }
    let seen: Vec<_> = other_subscriber.drain(Duration::from_millis(500)).await;
    assert_eq!(seen.len(), 1, "the replay reached no other subscriber (only the test's re-publication)");
    stop.send(true).unwrap();
    task.await.unwrap();
    env.cleanup(&["events"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_commands_name_a_missing_queue() {
    let env = TestEnv::new();
    let command = match parse(&["dlq".to_string(), "list".to_string()]) {
        Ok(Command::Dlq(c)) => c,
        other => panic!("{other:?}"),
    };
    let err = run_dlq("nobody", &env.service_config("nobody"), &command).await.expect_err("no queue");
    assert!(err.contains("nobody.events") && err.contains("does not exist"), "{err}");
}
