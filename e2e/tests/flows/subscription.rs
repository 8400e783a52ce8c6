//! Flow 3: subscribe, upgrade, a failed renewal and dunning down to Free.

use crate::support::{intent_of, str_of, Platform, User};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) async fn me(p: &Platform, user: &User) -> Value {
    let res = p.get(Some(user), "/api/subscriptions/me").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

async fn wait_status(p: &Platform, user: &User, status: &str) -> Value {
    p.eventually(&format!("subscription {status}"), || async {
        let m = me(p, user).await;
        (m["subscription"]["status"] == status).then_some(m)
    })
    .await
}

/// Subscribe to `tier` and pay the first month with `card`, completing 3-D Secure when asked.
pub(crate) async fn subscribe(p: &Platform, user: &User, tier: &str, card: &str) -> Value {
    let res = p.post_key(user, "/api/subscriptions", json!({"tier": tier}), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let intent = intent_of(&res.body["client_secret"]);
    let _ = p.fake.confirm_payment_intent(&intent, card);
    if card == "pm_card_authenticationRequired" {
        p.fake.complete_authentication(&intent).expect("3-D Secure completes");
    }
    wait_status(p, user, "active").await
}

pub(crate) fn period_end(me: &Value) -> DateTime<Utc> {
    str_of(&me["subscription"]["current_period_end"]).parse().expect("RFC 3339")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_upgrade_failed_renewal_and_dunning_to_free() {
    let p = Platform::start().await;
    let tiers = p.get(None, "/api/subscriptions/tiers").await;
    assert_eq!(tiers.status, 200, "the tier list is public: {}", tiers.body);

    // A card that pays on-session (after authentication) but fails every off-session charge.
    let alice = User::learner();
    let m = subscribe(&p, &alice, "pro", "pm_card_authenticationRequired").await;
    assert_eq!(m["subscription"]["tier"], "pro");
    let f = p.wait_feature(&alice, "certificates", true).await;
    assert_eq!(f["tier"], "pro");
    assert_eq!(f["source"], "subscription");
    let sub_a = str_of(&m["subscription"]["id"]);

    // Her upgrade is charged off-session on that card: refused, and she stays on Pro.
    let up = p.post_key(&alice, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), "up-alice").await;
    assert_eq!(up.status, 402, "{}", up.body);
    assert_eq!(up.body["code"], "payment_failed", "{}", up.body);
    assert_eq!(me(&p, &alice).await["subscription"]["tier"], "pro");
    assert_eq!(p.feature(&alice, "analytics").await["allowed"], false);

    // With a good card the prorated upgrade is charged now and applies at once.
    let bob = User::learner();
    subscribe(&p, &bob, "pro", "pm_card_visa").await;
    let up = p.post_key(&bob, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), "up-bob").await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["tier"], "enterprise");
    let f = p.wait_feature(&bob, "analytics", true).await;
    assert_eq!(f["tier"], "enterprise");
    let changed =
        p.events.wait_for("subscriptions.subscription.changed.v1", |d| d["user_id"] == bob.id.to_string()).await;
    assert_eq!(changed.data["tier"], "enterprise");

    // Alice's renewal fails: past due, retried on days 1, 3 and 5, then canceled.
    let end = period_end(&m);
    p.subscriptions_clock.set(end + Duration::seconds(1));
    let is_alice = |d: &Value, attempt: i64| d["subscription_id"] == sub_a.as_str() && d["attempt"] == attempt;
    p.events.wait_for("subscriptions.subscription.past_due.v1", |d| is_alice(d, 1)).await;
    let m = wait_status(&p, &alice, "past_due").await;
    assert!(m["subscription"]["next_retry_at"].is_string(), "{m}");
    assert_eq!(p.feature(&alice, "certificates").await["allowed"], true, "access kept while retrying");
    for (day, attempt) in [(1, 2), (3, 3)] {
        p.subscriptions_clock.set(end + Duration::days(day) + Duration::seconds(2));
        p.events.wait_for("subscriptions.subscription.past_due.v1", |d| is_alice(d, attempt)).await;
    }
    p.subscriptions_clock.set(end + Duration::days(5) + Duration::seconds(3));
    let canceled =
        p.events.wait_for("subscriptions.subscription.canceled.v1", |d| d["subscription_id"] == sub_a.as_str()).await;
    assert_eq!(canceled.data["reason"], "dunning_exhausted");
    wait_status(&p, &alice, "canceled").await;
    let f = p.wait_feature(&alice, "certificates", false).await;
    assert_eq!(f["tier"], "free", "{f}");

    // Bob's saved card renewed him meanwhile, and the renewal earned him tokens.
    let renewed =
        p.events.wait_for("subscriptions.subscription.renewed.v1", |d| d["user_id"] == bob.id.to_string()).await;
    assert_eq!(renewed.data["tier"], "enterprise");
    assert_eq!(wait_status(&p, &bob, "active").await["subscription"]["tier"], "enterprise");
    assert_eq!(p.feature(&bob, "analytics").await["allowed"], true);
    p.eventually("tokens for the renewal", || async { (p.balance(&bob).await > 0).then_some(()) }).await;
    let earned = p.transactions(&bob, "earn").await;
    assert_eq!(earned.len(), 1, "{earned:?}");
    assert_eq!(earned[0]["reference"], renewed.data["subscription_id"]);

    for user in [&alice, &bob] {
        p.events.wait_for("subscriptions.subscription.activated.v1", |d| d["user_id"] == user.id.to_string()).await;
    }
    p.events.wait_for("billing.payment.failed.v1", |d| d["user_id"] == alice.id.to_string()).await;
    p.stop().await;
}
