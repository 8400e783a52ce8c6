//! The shared half of test clocks (`events::test_clocks`) on the real PostgreSQL: the handler
//! wrapper keeps each schema's copy of the clocks from subscriptions' events, in whatever order
//! they arrive, and the schedulers' passes, `now_of` and `owned_by` read that copy.
use crate::support::{pool, Ping, Recorder};
use chrono::{DateTime, Duration, TimeZone, Utc};
use events::catalog::subscriptions::{TestClockAdvanced, TestClockDeleted};
use events::test_clocks::{now_of, owned_by, passes, with_test_clocks, Pass};
use events::{CloudEvent, DomainEvent, EventHandler};
use std::sync::Arc;
use testkit::TestEnv;
use uuid::Uuid;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, day, 12, 0, 0).unwrap()
}

async fn apply<E: DomainEvent>(handler: &Arc<dyn EventHandler>, conn: &mut diesel_async::AsyncPgConnection, e: &E) {
    let event = CloudEvent::new(e, None).unwrap();
    handler.handle(conn, &event).await.expect("the event applies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clocks_copy_only_moves_forward_a_deletion_freezes_it_and_other_events_reach_the_service() {
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut conn = pool.get().await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let inner: Arc<dyn EventHandler> = recorder.clone();

    // Off: the service's own handler, unchanged, and no clock type bound.
    let off = with_test_clocks(false, Some(inner.clone())).expect("the inner handler");
    assert!(!off.subscriptions().contains(&TestClockAdvanced::TYPE));
    assert_eq!(passes(&mut conn, false, at(1)).await.unwrap(), vec![Pass::wall(at(1))]);

    let handler = with_test_clocks(true, Some(inner)).expect("a handler");
    let types = handler.subscriptions();
    for t in [Ping::TYPE, TestClockAdvanced::TYPE, TestClockDeleted::TYPE] {
        assert!(types.contains(&t), "{t} is bound: {types:?}");
    }

    let (owner, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    let (clock, other) = (Uuid::now_v7(), Uuid::now_v7());
    // The later advance arrives first; the earlier one, late, must not move the clock back.
    apply(&handler, &mut conn, &TestClockAdvanced { clock_id: clock, owner_id: owner, now: at(20) }).await;
    apply(&handler, &mut conn, &TestClockAdvanced { clock_id: clock, owner_id: owner, now: at(5) }).await;
    apply(&handler, &mut conn, &TestClockAdvanced { clock_id: other, owner_id: stranger, now: at(3) }).await;
    assert_eq!(now_of(&mut conn, Some(clock), at(1)).await.unwrap(), at(20));
    assert_eq!(now_of(&mut conn, None, at(1)).await.unwrap(), at(1), "no clock: the wall's time");
    assert_eq!(now_of(&mut conn, Some(Uuid::now_v7()), at(1)).await.unwrap(), at(1), "a clock not heard of");

    // Only the owner may attach objects to it.
    assert!(owned_by(&mut conn, clock, owner).await.unwrap());
    assert!(!owned_by(&mut conn, clock, stranger).await.unwrap());

    // A scheduler tick: the wall first, then each clock at its own time.
    let mut expected =
        vec![Pass::wall(at(2)), Pass { clock: Some(clock), now: at(20) }, Pass { clock: Some(other), now: at(3) }];
    expected[1..].sort_by_key(|p| p.clock);
    assert_eq!(passes(&mut conn, true, at(2)).await.unwrap(), expected);

    // Deleted: frozen at its last time, no pass, nothing new attached; an advance sent before the
    // deletion but arriving after it moves the time, never undeletes it.
    let deleted_at = at(21) + Duration::hours(1);
    apply(&handler, &mut conn, &TestClockDeleted { clock_id: clock, owner_id: owner, now: at(20), deleted_at }).await;
    apply(&handler, &mut conn, &TestClockAdvanced { clock_id: clock, owner_id: owner, now: at(25) }).await;
    assert_eq!(now_of(&mut conn, Some(clock), at(1)).await.unwrap(), at(25));
    assert!(!owned_by(&mut conn, clock, owner).await.unwrap(), "a deleted clock takes nothing new");
    let clocks: Vec<Option<Uuid>> = passes(&mut conn, true, at(2)).await.unwrap().iter().map(|p| p.clock).collect();
    assert_eq!(clocks, vec![None, Some(other)]);

    // A deletion that arrives before the clock's first advance still leaves it known and deleted.
    let early = Uuid::now_v7();
    apply(&handler, &mut conn, &TestClockDeleted { clock_id: early, owner_id: owner, now: at(9), deleted_at }).await;
    apply(&handler, &mut conn, &TestClockAdvanced { clock_id: early, owner_id: owner, now: at(8) }).await;
    assert_eq!(now_of(&mut conn, Some(early), at(1)).await.unwrap(), at(9));
    assert!(!owned_by(&mut conn, early, owner).await.unwrap());

    // Every other event goes to the service's handler.
    let ping = CloudEvent::new(&Ping { n: 7 }, None).unwrap();
    handler.handle(&mut conn, &ping).await.expect("the service's own event");
    assert_eq!(recorder.calls(ping.id), 1);
    drop(conn);
    env.cleanup(&["events"]).await;
}
