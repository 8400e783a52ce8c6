//! Test clocks (issue 23, point 5): a subscription on a clock lives in the clock's time, and only
//! in it; the wall-clock scheduler leaves it alone.

use crate::support::Stack;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use events::CloudEvent;
use platform::auth::Role;
use platform::clock::Clock;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn expect_for(s: &mut Stack, user: Uuid, event_type: &str) -> CloudEvent {
    loop {
        let e = s.events.expect(event_type, StdDuration::from_secs(20)).await;
        if e.data["user_id"] == user.to_string() {
            return e;
        }
    }
}

async fn create_clock(s: &Stack, user: Uuid, frozen: DateTime<Utc>) -> Value {
    let res = s.post(user, "/api/test-clocks", json!({"name": "renewals", "frozen_time": frozen}), None).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

async fn advance(s: &Stack, user: Uuid, clock: &str, to: DateTime<Utc>) -> reqwest::Response {
    let path = format!("/api/test-clocks/{clock}/advance");
    s.post(user, &path, json!({ "to": to }), Some(&Uuid::new_v4().to_string())).await
}

/// Advance and wait until subscriptions has done everything due on the clock.
async fn advance_ready(s: &Stack, user: Uuid, clock: &str, to: DateTime<Utc>) {
    let res = advance(s, user, clock, to).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let body: Value = res.json().await.unwrap();
    assert_eq!(at(&body["now"]), to);
    testkit::eventually("the clock ready", StdDuration::from_secs(30), || async {
        let c: Value = s.get(user, &format!("/api/test-clocks/{clock}")).await.json().await.unwrap();
        (c["status"] == "ready").then_some(())
    })
    .await;
}

/// Subscribe to Pro on `clock` and pay the first month with `card`.
async fn subscribe_on(s: &Stack, user: Uuid, clock: &str, card: &str) -> Value {
    let body = json!({"tier": "pro", "test_clock": clock});
    let res = s.post(user, "/api/subscriptions", body, Some(&Uuid::new_v4().to_string())).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["subscription"]["test_clock"], clock);
    let pi = created["client_secret"].as_str().unwrap().split("_secret_").next().unwrap().to_string();
    let _ = s.fake.confirm_payment_intent(&pi, card);
    if card == "pm_card_authenticationRequired" {
        s.fake.complete_authentication(&pi).unwrap();
    }
    s.wait_status(user, "active").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_on_a_test_clock_renews_and_runs_dunning_when_the_clock_moves_and_only_then() {
    let mut s = Stack::start().await;
    let t0 = s.clock.now().trunc_subsecs(0);
    let (good, bad, plain) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let good_clock = create_clock(&s, good, t0).await;
    let good_clock = good_clock["id"].as_str().unwrap().to_string();
    let bad_clock = create_clock(&s, bad, t0).await;
    let bad_clock = bad_clock["id"].as_str().unwrap().to_string();

    let me = subscribe_on(&s, good, &good_clock, "pm_card_visa").await;
    assert_eq!(at(&me["subscription"]["current_period_start"]), t0, "activated at the clock's time");
    let good_end = period_end(&me);
    // Pays on-session (after authentication), declines every off-session charge.
    let me = subscribe_on(&s, bad, &bad_clock, "pm_card_authenticationRequired").await;
    let bad_end = period_end(&me);
    let me = s.subscribe_and_pay(plain, "pro", "pm_card_visa").await;
    let plain_end = period_end(&me);

    // Real time passes the period ends: only the subscription on no clock renews.
    s.clock.set(plain_end.max(good_end).max(bad_end) + Duration::seconds(1));
    expect_for(&mut s, plain, "subscriptions.subscription.renewed.v1").await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(period_end(&s.me(good).await), good_end, "the wall clock moved a subscription on a test clock");
    assert_eq!(s.me(bad).await["subscription"]["status"], "active");

    // The clock passes the period end: renewed, as in real time, with the next period from there.
    advance_ready(&s, good, &good_clock, good_end + Duration::seconds(1)).await;
    let renewed = expect_for(&mut s, good, "subscriptions.subscription.renewed.v1").await;
    assert_eq!(renewed.data["amount"]["amount"], "9.99");
    assert_eq!(at(&renewed.data["current_period_start"]), good_end);
    let me = s.me(good).await;
    assert!(period_end(&me) > good_end + Duration::days(27), "{me}");

    // The declining card: past_due, retried a day later in the clock's time, then the next retry.
    advance_ready(&s, bad, &bad_clock, bad_end + Duration::seconds(1)).await;
    let past_due = expect_for(&mut s, bad, "subscriptions.subscription.past_due.v1").await;
    assert_eq!(past_due.data["attempt"], 1);
    let retry_at = at(&past_due.data["next_retry_at"]);
    assert_eq!(retry_at, bad_end + Duration::seconds(1) + Duration::days(1), "the retry is a day in the clock's time");
    advance_ready(&s, bad, &bad_clock, retry_at + Duration::seconds(1)).await;
    let past_due = expect_for(&mut s, bad, "subscriptions.subscription.past_due.v1").await;
    assert_eq!(past_due.data["attempt"], 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_clocks_are_the_owners_and_only_move_forward() {
    let mut s = Stack::start().await;
    let (owner, other) = (Uuid::now_v7(), Uuid::now_v7());
    let t0 = DateTime::parse_from_rfc3339("2030-01-15T00:00:00Z").unwrap().with_timezone(&Utc);
    let clock = create_clock(&s, owner, t0).await;
    assert_eq!(clock["status"], "ready");
    assert_eq!(at(&clock["now"]), t0);
    let id = clock["id"].as_str().unwrap().to_string();

    // Backwards: refused, nothing moved.
    let res = advance(&s, owner, &id, t0 - Duration::days(1)).await;
    assert_eq!(res.status(), 422);
    // Without a key: refused.
    let res = s.post(owner, &format!("/api/test-clocks/{id}/advance"), json!({"to": t0}), None).await;
    assert_eq!(res.status(), 400);
    // Another user's clock: as if it did not exist, and it cannot carry their subscription.
    assert_eq!(s.get(other, &format!("/api/test-clocks/{id}")).await.status(), 404);
    assert_eq!(advance(&s, other, &id, t0 + Duration::days(1)).await.status(), 404);
    let res = s.post(other, "/api/subscriptions", json!({"tier": "pro", "test_clock": id}), Some("other-sub")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "test_clock");
    let list: Value = s.get(other, "/api/test-clocks").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let list: Value = s.get(owner, "/api/test-clocks").await.json().await.unwrap();
    assert_eq!(list["data"][0]["id"], id.as_str());
    let c: Value = s.get(owner, &format!("/api/test-clocks/{id}")).await.json().await.unwrap();
    assert_eq!(at(&c["now"]), t0);

    // The same key replays the advance; the event says where the clock is.
    let path = format!("/api/test-clocks/{id}/advance");
    let to = t0 + Duration::days(31);
    let first = s.post(owner, &path, json!({ "to": to }), Some("adv-1")).await;
    assert_eq!(first.status(), 200);
    let again = s.post(owner, &path, json!({ "to": to }), Some("adv-1")).await;
    assert_eq!(again.status(), 200);
    let c: Value = s.get(owner, &format!("/api/test-clocks/{id}")).await.json().await.unwrap();
    assert_eq!(at(&c["now"]), to);
    // Published once on create (at t0) and once by the advance (its replay publishes nothing).
    let moved = loop {
        let e = s.events.expect("subscriptions.test_clock.advanced.v1", StdDuration::from_secs(15)).await;
        if e.data["clock_id"] == id.as_str() && at(&e.data["now"]) == to {
            break e;
        }
    };
    assert_eq!(moved.subject, id);
    let more = s.events.drain(StdDuration::from_millis(500)).await;
    assert!(!more.iter().any(|e| e.event_type == "subscriptions.test_clock.advanced.v1"), "{more:?}");

    // Deleted: gone for its owner too.
    let token = testkit::internal_token("subscriptions", &owner.to_string(), &[Role::Learner]);
    let res = s
        .http
        .delete(format!("{}/api/test-clocks/{id}", s.svc.url()))
        .header("x-internal-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(s.get(owner, &format!("/api/test-clocks/{id}")).await.status(), 404);
    s.stop().await;
}

async fn delete_clock(s: &Stack, user: Uuid, clock: &str) -> reqwest::StatusCode {
    let token = testkit::internal_token("subscriptions", &user.to_string(), &[Role::Learner]);
    let url = format!("{}/api/test-clocks/{clock}", s.svc.url());
    s.http.delete(url).header("x-internal-token", token).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_on_a_test_clock_acts_in_its_time_and_stays_frozen_when_it_is_deleted() {
    let mut s = Stack::start().await;
    let t0 = s.clock.now().trunc_subsecs(0);
    let user = Uuid::now_v7();
    // A clock two months ahead of the service's time.
    let tc = t0 + Duration::days(60);
    let clock = create_clock(&s, user, tc).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let me = subscribe_on(&s, user, &clock, "pm_card_visa").await;
    let end = period_end(&me);

    // A request on it is stamped with the clock's time, not the service's.
    advance_ready(&s, user, &clock, tc + Duration::days(1)).await;
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": true}), None).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let changed = expect_for(&mut s, user, "subscriptions.subscription.changed.v1").await;
    assert_eq!(at(&changed.data["occurred_at"]), tc + Duration::days(1));

    // Deleted: gone for its owner, announced with its last time, and it takes nothing new.
    assert_eq!(delete_clock(&s, user, &clock).await, 204);
    let deleted = s.events.expect("subscriptions.test_clock.deleted.v1", StdDuration::from_secs(15)).await;
    assert_eq!((deleted.data["clock_id"].clone(), at(&deleted.data["now"])), (json!(clock), tc + Duration::days(1)));
    assert_eq!(s.get(user, &format!("/api/test-clocks/{clock}")).await.status(), 404);
    let list: Value = s.get(user, "/api/test-clocks").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");
    assert_eq!(delete_clock(&s, user, &clock).await, 404);
    let other = Uuid::now_v7();
    let others = create_clock(&s, other, t0).await;
    let others = others["id"].as_str().unwrap().to_string();
    assert_eq!(delete_clock(&s, other, &others).await, 204);
    let res = s.post(other, "/api/subscriptions", json!({"tier": "pro", "test_clock": others}), Some("k")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "test_clock");

    // Its subscription stays at the clock's last time: an action is still stamped with it, and
    // real time passing its period end does not end it.
    let res = s.post(user, "/api/subscriptions/me/resume", json!({}), None).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let resumed = expect_for(&mut s, user, "subscriptions.subscription.changed.v1").await;
    assert_eq!(at(&resumed.data["occurred_at"]), tc + Duration::days(1));
    s.clock.set(end + Duration::days(1));
    tokio::time::sleep(StdDuration::from_millis(700)).await;
    let me = s.me(user).await;
    assert_eq!((me["subscription"]["status"].clone(), period_end(&me)), (json!("active"), end), "{me}");
    s.stop().await;
}
