//! A new default card retries a past-due renewal at once (billing's
//! `billing.payment_method.default_changed.v1`, with the real billing and stripe-fake).

use crate::support::Stack;
use chrono::{DateTime, Duration, Utc};
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

/// Saves `card` through billing's SetupIntent, as the app does.
pub async fn save_card(s: &Stack, user: Uuid, card: &str) {
    let res = s
        .http
        .post(format!("{}/api/payments/methods/setup", s.billing.url()))
        .header("x-internal-token", testkit::internal_token("billing", &user.to_string(), &[Role::Learner]))
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let setup: Value = res.json().await.unwrap();
    s.fake.confirm_setup_intent(setup["setup_intent_id"].as_str().unwrap(), card).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_default_card_retries_a_past_due_renewal_at_once() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    // Pays on-session after 3-D Secure, fails every off-session renewal.
    let me = s.subscribe_and_pay(user, "pro", "pm_card_authenticationRequired").await;
    let end = period_end(&me);
    s.clock.set(end + Duration::seconds(1));
    let past_due = s.events.expect("subscriptions.subscription.past_due.v1", StdDuration::from_secs(15)).await;
    assert_eq!(past_due.data["attempt"], 1);
    let retry_at: DateTime<Utc> = past_due.data["next_retry_at"].as_str().unwrap().parse().unwrap();
    assert!(retry_at > end + Duration::hours(12), "the next scheduled retry is a day away");

    // The clock stays put: only the new card makes the renewal happen now.
    save_card(&s, user, "pm_card_visa").await;
    let renewed = testkit::eventually("the renewal retried with the new card", StdDuration::from_secs(20), || async {
        let me = s.me(user).await;
        (me["subscription"]["status"] == "active" && period_end(&me) > end).then_some(me)
    })
    .await;
    assert_eq!(renewed["subscription"]["tier"], "pro");
    // The new card (the only 4242 here) paid it; the fake's list is not in creation order.
    let charged = s.fake.charges();
    let with_new_card: Vec<_> =
        charged.iter().filter(|c| c["payment_method_details"]["card"]["last4"].as_str() == Some("4242")).collect();
    assert_eq!(with_new_card.len(), 1, "{charged:?}");
    assert_eq!(with_new_card[0]["status"], "succeeded");

    // An active subscriber changing cards changes nothing in subscriptions.
    let before = s.me(user).await;
    save_card(&s, user, "pm_card_mastercard").await;
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(s.me(user).await["subscription"], before["subscription"]);
    s.stop().await;
}
