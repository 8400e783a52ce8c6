use crate::support::Stack;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_pay_active_then_upgrade_charges_the_preview() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    assert_eq!(me["subscription"]["tier"], "pro");
    let activated = s.events.expect("subscriptions.subscription.activated.v1", StdDuration::from_secs(10)).await;
    assert_eq!(activated.data["user_id"], user.to_string());
    let f = s.feature(user, "downloads.offline").await;
    assert_eq!(f["allowed"], true);
    assert_eq!(f["source"], "subscription");
    assert_eq!(s.feature(user, "analytics").await["allowed"], false);

    // Ten days into the period.
    s.clock.advance(Duration::days(10));
    let preview: Value =
        s.get(user, "/api/subscriptions/me/change/preview?tier=enterprise").await.json().await.unwrap();
    assert_eq!(preview["applies"], "now");
    let amount: Decimal = preview["amount"]["amount"].as_str().unwrap().parse().unwrap();
    assert!(amount > Decimal::ZERO && amount < "89.01".parse().unwrap(), "{preview}");
    let res = s.post(user, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), Some("up-1")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let changed = s.events.expect("subscriptions.subscription.changed.v1", StdDuration::from_secs(10)).await;
    assert_eq!(changed.data["prorated_charge"]["amount"], preview["amount"]["amount"]);
    // Billing charged exactly the previewed amount (in cents) on the saved card.
    let cents = (amount * Decimal::from(100)).to_string().parse::<f64>().unwrap() as i64;
    assert!(
        s.fake.payment_intents().iter().any(|pi| pi["amount"] == cents && pi["status"] == "succeeded"),
        "no PI of {cents}"
    );
    assert_eq!(s.feature(user, "analytics").await["allowed"], true, "the upgrade applies at once");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrade_waits_for_the_period_end_and_renewal_charges_the_new_tier() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "enterprise", "pm_card_visa").await;
    let end = period_end(&me);
    let res = s.post(user, "/api/subscriptions/me/change", json!({"tier": "pro"}), Some("down-1")).await;
    assert_eq!(res.status(), 200);
    let sub: Value = res.json().await.unwrap();
    assert_eq!(sub["tier"], "enterprise");
    assert_eq!(sub["pending_tier"], "pro");
    assert_eq!(s.feature(user, "analytics").await["allowed"], true, "still enterprise until the period ends");

    s.clock.set(end + Duration::seconds(1));
    let renewed = s.events.expect("subscriptions.subscription.renewed.v1", StdDuration::from_secs(15)).await;
    assert_eq!(renewed.data["tier"], "pro");
    assert_eq!(renewed.data["amount"]["amount"], "9.99");
    let me = s.me(user).await;
    assert!(period_end(&me) > end);
    assert_eq!(s.feature(user, "analytics").await["allowed"], false);
    assert_eq!(s.feature(user, "certificates").await["allowed"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_at_period_end_keeps_access_until_then() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    let end = period_end(&me);
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": true}), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(s.feature(user, "certificates").await["allowed"], true);
    s.clock.set(end - Duration::seconds(5));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "active");
    s.clock.set(end + Duration::seconds(1));
    let canceled = s.events.expect("subscriptions.subscription.canceled.v1", StdDuration::from_secs(15)).await;
    assert_eq!(canceled.data["reason"], "period_end");
    let f = s.feature(user, "certificates").await;
    assert_eq!(f["allowed"], false);
    assert_eq!(f["tier"], "free");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_succeeds_and_a_failing_card_runs_dunning_to_canceled() {
    let mut s = Stack::start().await;
    // A card that pays on-session (after authentication) but fails every off-session renewal.
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "pro", "pm_card_authenticationRequired").await;
    let end = period_end(&me);
    s.clock.set(end + Duration::seconds(1));
    let past_due = s.events.expect("subscriptions.subscription.past_due.v1", StdDuration::from_secs(15)).await;
    assert_eq!(past_due.data["attempt"], 1);
    assert_eq!(s.feature(user, "certificates").await["allowed"], true, "access kept while retrying");
    for (day, attempt) in [(1, 2), (3, 3)] {
        s.clock.set(end + Duration::days(day) + Duration::seconds(2));
        let e = s.events.expect("subscriptions.subscription.past_due.v1", StdDuration::from_secs(15)).await;
        assert_eq!(e.data["attempt"], attempt);
    }
    s.clock.set(end + Duration::days(5) + Duration::seconds(3));
    let canceled = s.events.expect("subscriptions.subscription.canceled.v1", StdDuration::from_secs(15)).await;
    assert_eq!(canceled.data["reason"], "dunning_exhausted");
    assert_eq!(s.feature(user, "certificates").await["tier"], "free");

    // A good card renews: the period moves on.
    let other = Uuid::now_v7();
    let me = s.subscribe_and_pay(other, "pro", "pm_card_visa").await;
    let end = period_end(&me);
    s.clock.set(end + Duration::seconds(1));
    let renewed = testkit::eventually("the renewal", StdDuration::from_secs(15), || async {
        let me = s.me(other).await;
        (period_end(&me) > end).then_some(me)
    })
    .await;
    assert_eq!(renewed["subscription"]["status"], "active");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_subscribes_make_one_subscription_and_users_are_isolated() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    let calls = (0..2)
        .map(|i| s.post(user, "/api/subscriptions", json!({"tier": "pro"}), Some(if i == 0 { "a" } else { "b" })));
    let statuses: Vec<u16> = futures_util::future::join_all(calls).await.iter().map(|r| r.status().as_u16()).collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, vec![201, 409], "{statuses:?}");
    // B sees nothing of A's and cannot cancel it.
    let b = Uuid::now_v7();
    assert!(s.me(b).await["subscription"].is_null());
    let res = s.post(b, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 404);
    assert_eq!(s.me(user).await["subscription"]["status"], "incomplete");
    let bad = s.post(b, "/api/subscriptions", json!({"tier": "platinum"}), Some("x")).await;
    assert_eq!(bad.status(), 422);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_first_period_expires_after_23_hours() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let res = s.post(user, "/api/subscriptions", json!({"tier": "pro"}), Some("never-paid")).await;
    assert_eq!(res.status(), 201);
    s.clock.advance(Duration::hours(22));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "incomplete");
    s.clock.advance(Duration::hours(2));
    let e = s.events.expect("subscriptions.subscription.canceled.v1", StdDuration::from_secs(15)).await;
    assert_eq!(e.data["reason"], "first_payment_expired");
    assert_eq!(e.data["status"], "incomplete_expired");
    // The user may subscribe again.
    let again = s.post(user, "/api/subscriptions", json!({"tier": "pro"}), Some("second-try")).await;
    assert_eq!(again.status(), 201);
    s.stop().await;
}
