//! Issue 14, items 2 and 3 through the gateway: a refund of a subscription payment ends the
//! subscription's access at once, and a subscription canceled before its first payment asks
//! billing to void that payment.

use crate::support::{intent_of, str_of, Platform, User};
use serde_json::{json, Value};
use uuid::Uuid;

/// Subscribe to `tier` and pay the first month by card: (the subscribe answer, the PaymentIntent).
async fn subscribe(p: &Platform, user: &User, tier: &str) -> (Value, String) {
    let res = p.post_key(user, "/api/subscriptions", json!({"tier": tier}), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let intent = intent_of(&res.body["client_secret"]);
    (res.body, intent)
}

async fn wait_status(p: &Platform, user: &User, status: &str) -> Value {
    p.eventually(&format!("subscription {status}"), || async {
        let me = p.get(Some(user), "/api/subscriptions/me").await;
        (me.body["subscription"]["status"] == status).then_some(me.body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_full_refund_of_a_pro_payment_ends_pro_at_once() {
    let p = Platform::start().await;
    let learner = User::learner();
    let (created, intent) = subscribe(&p, &learner, "pro").await;
    p.fake.confirm_payment_intent(&intent, "pm_card_visa").expect("the card pays");
    wait_status(&p, &learner, "active").await;
    p.wait_feature(&learner, "certificates", true).await;

    let payment = str_of(&created["payment_id"]);
    let refund = p
        .post_key(
            &User::admin(),
            &format!("/api/payments/{payment}/refunds"),
            json!({"reason": "requested_by_customer"}),
            &Uuid::new_v4().to_string(),
        )
        .await;
    assert!(refund.is_success(), "{} {}", refund.status, refund.body);

    let f = p.wait_feature(&learner, "certificates", false).await;
    assert_eq!(f["tier"], "free", "{f}");
    let me = wait_status(&p, &learner, "canceled").await;
    assert_eq!(me["effective_tier"], "free");
    let canceled =
        p.events.wait_for("subscriptions.subscription.canceled.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(canceled.data["reason"], "refunded");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_before_paying_asks_billing_to_void_the_payment() {
    let p = Platform::start().await;
    let learner = User::learner();
    let (created, _) = subscribe(&p, &learner, "pro").await;
    let cancel = p.post(&learner, "/api/subscriptions/me/cancel", json!({"at_period_end": false})).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    let payment = str_of(&created["payment_id"]);
    let void =
        p.events.wait_for("subscriptions.payment.void_requested.v1", |d| d["payment_id"] == payment.as_str()).await;
    assert_eq!(void.data["reason"], "subscription_canceled");
    assert_eq!(void.data["user_id"], learner.id.to_string());
    p.stop().await;
}
