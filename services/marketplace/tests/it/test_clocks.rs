//! Test clocks (issue 23) in marketplace: an unpaid purchase on a clock expires after
//! `MARKETPLACE_PURCHASE_EXPIRY_MINUTES` of the clock's time, not of real time; its view names the
//! clock; a deleted clock takes no new purchase and the ones on it stay frozen.

use crate::purchase::purchase_status;
use crate::support::{Market, Options};
use chrono::Duration;
use platform::auth::Role;
use platform::clock::Clock;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

async fn market() -> Market {
    Market::start_with(Options { billing: true, rewards: false, tweak: Box::new(|c| c.test_clocks = true) }).await
}

/// A purchase on `clock` (which marketplace knows): the answer.
async fn buy_on(m: &Market, buyer: Uuid, course: &str, clock: Uuid) -> Value {
    let body = json!({"course_id": course, "test_clock": clock});
    let key = Uuid::new_v4().to_string();
    let res = m.send(reqwest::Method::POST, buyer, &[Role::Learner], "/api/courses/purchase", body, Some(&key)).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_purchase_on_a_test_clock_expires_in_the_clocks_time_only() {
    let m = market().await;
    let (buyer, other) = (Uuid::now_v7(), Uuid::now_v7());
    let clock = Uuid::now_v7();
    let t0 = m.clock.now();
    testkit::test_clocks::advance(&m.env, &m.svc, "marketplace", clock, buyer, t0).await;
    let course = m.course(Uuid::now_v7(), json!({}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let clocked = buy_on(&m, buyer, course_id, clock).await;
    assert_eq!(clocked["status"], "pending");
    assert_eq!(clocked["test_clock"], json!(clock), "the view names its clock");
    let clocked = clocked["id"].as_str().unwrap().to_string();
    let plain: Value = m.buy(other, course_id, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    assert!(plain.get("test_clock").is_none(), "{plain}");
    let plain = plain["id"].as_str().unwrap().to_string();

    // A day of real time: the purchase on no clock expires, the one on the clock does not.
    m.clock.advance(Duration::hours(24) + Duration::minutes(1));
    testkit::eventually("the purchase on no clock to expire", StdDuration::from_secs(20), || async {
        (purchase_status(&m, &plain).await == "failed").then_some(())
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(purchase_status(&m, &clocked).await, "pending", "expired in real time");

    // The clock a minute short of the window: still pending; past it: expired.
    testkit::test_clocks::advance(
        &m.env,
        &m.svc,
        "marketplace",
        clock,
        buyer,
        t0 + Duration::hours(24) - Duration::minutes(1),
    )
    .await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(purchase_status(&m, &clocked).await, "pending");
    testkit::test_clocks::advance(
        &m.env,
        &m.svc,
        "marketplace",
        clock,
        buyer,
        t0 + Duration::hours(24) + Duration::minutes(1),
    )
    .await;
    testkit::eventually("the purchase on the clock to expire", StdDuration::from_secs(20), || async {
        (purchase_status(&m, &clocked).await == "failed").then_some(())
    })
    .await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_test_clock_takes_no_new_purchase_and_its_purchases_stay_frozen() {
    let m = market().await;
    let buyer = Uuid::now_v7();
    let clock = Uuid::now_v7();
    let t0 = m.clock.now();
    testkit::test_clocks::advance(&m.env, &m.svc, "marketplace", clock, buyer, t0).await;
    let first = m.course(Uuid::now_v7(), json!({}), true).await;
    let second = m.course(Uuid::now_v7(), json!({}), true).await;
    let frozen = buy_on(&m, buyer, first["id"].as_str().unwrap(), clock).await;
    let frozen = frozen["id"].as_str().unwrap().to_string();

    // Deleted at a time past the purchase's window (the advance that got it there never
    // reached marketplace): no pass runs for a deleted clock, so the purchase stays as it is.
    testkit::test_clocks::delete(&m.env, &m.svc, "marketplace", clock, buyer, t0 + Duration::days(2)).await;
    let body = json!({"course_id": second["id"], "test_clock": clock});
    let key = Uuid::new_v4().to_string();
    let res = m.send(reqwest::Method::POST, buyer, &[Role::Learner], "/api/courses/purchase", body, Some(&key)).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!((status, body["errors"][0]["field"].clone()), (422, json!("test_clock")), "{body}");
    // Nor does real time move it.
    m.clock.advance(Duration::days(2));
    tokio::time::sleep(StdDuration::from_millis(700)).await;
    assert_eq!(purchase_status(&m, &frozen).await, "pending");
    m.stop().await;
}
