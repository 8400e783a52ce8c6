//! No transaction or pooled connection is held while billing works (issue 14, item 13): with a
//! pool of ONE connection and a Stripe that answers slowly, a subscribe, an upgrade or a renewal in
//! flight does not hold up anyone's `GET /api/subscriptions/me` or feature check.

use crate::support::{Options, Stack};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::time::{Duration as StdDuration, Instant};
use stripe_fake::Fault;
use uuid::Uuid;

/// How long Stripe takes to answer the next call.
const SLOW: StdDuration = StdDuration::from_secs(4);
/// Well under [`SLOW`]: an answer this fast did not wait for the call in flight.
const FAST: StdDuration = StdDuration::from_millis(1_500);

/// A POST sent in the background (it takes as long as Stripe does).
fn post_in_background(s: &Stack, user: Uuid, path: &str, body: Value, key: &str) -> tokio::task::JoinHandle<u16> {
    let token = testkit::internal_token("subscriptions", &user.to_string(), &[platform::auth::Role::Learner]);
    let send = s
        .http
        .post(format!("{}{path}", s.svc.url()))
        .header("x-internal-token", token)
        .header("idempotency-key", key)
        .json(&body)
        .send();
    tokio::spawn(async move { send.await.map(|r| r.status().as_u16()).unwrap_or(0) })
}

/// Another user's reads answer at once while the call is in flight.
async fn reads_are_not_blocked(s: &Stack, during: &str) {
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let other = Uuid::now_v7();
    let started = Instant::now();
    let me = s.get(other, "/api/subscriptions/me").await;
    assert_eq!(me.status(), 200, "{during}");
    let feature = s.get(other, "/api/features/certificates").await;
    assert_eq!(feature.status(), 200, "{during}");
    let took = started.elapsed();
    assert!(took < FAST, "{during}: reads took {took:?} while billing was slow");
}

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_billing_does_not_hold_the_only_connection() {
    let s = Stack::start_with(Options { pool_size: 1, stripe_timeout_ms: 10_000 }).await;
    let user = Uuid::now_v7();

    s.fake.inject_fault(Fault::DelayResponse(SLOW), 1);
    let subscribe = post_in_background(&s, user, "/api/subscriptions", json!({"tier": "pro"}), "sub-1");
    reads_are_not_blocked(&s, "subscribe").await;
    assert_eq!(subscribe.await.unwrap(), 201);
    let intent = s.fake.payment_intents().into_iter().next().unwrap()["id"].as_str().unwrap().to_string();
    s.fake.confirm_payment_intent(&intent, "pm_card_visa").unwrap();
    let me = s.wait_status(user, "active").await;

    s.clock.advance(Duration::days(3));
    s.fake.inject_fault(Fault::DelayResponse(SLOW), 1);
    let upgrade = post_in_background(&s, user, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), "up-1");
    reads_are_not_blocked(&s, "upgrade").await;
    assert_eq!(upgrade.await.unwrap(), 200);
    assert_eq!(s.feature(user, "analytics").await["allowed"], true, "the upgrade applied");

    // The renewal charge at the period end: the scheduler holds nothing while billing works.
    let end = period_end(&me);
    s.fake.inject_fault(Fault::DelayResponse(SLOW), 1);
    s.clock.set(end + Duration::seconds(1));
    reads_are_not_blocked(&s, "renewal").await;
    let renewed = testkit::eventually("the renewal", StdDuration::from_secs(20), || async {
        let me = s.me(user).await;
        (period_end(&me) > end).then_some(me)
    })
    .await;
    assert_eq!(renewed["subscription"]["status"], "active");
    assert_eq!(renewed["subscription"]["tier"], "enterprise");
    s.stop().await;
}
