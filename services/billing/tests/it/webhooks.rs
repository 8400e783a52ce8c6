use crate::support::{Stack, WEBHOOK_SECRET};
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn post_webhook(s: &Stack, body: &[u8], signature: &str) -> reqwest::Response {
    s.http
        .post(s.url("/api/payments/webhook"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_webhook_changes_nothing() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "12.00").await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    let paid = s.wait_status(buyer, &id, "succeeded").await;
    s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    let evt = s.fake.events_of_type("payment_intent.succeeded")[0]["id"].as_str().unwrap().to_string();
    s.fake.duplicate_event(&evt).unwrap();
    s.fake.resend_event(&evt).unwrap();
    testkit::eventually("the redeliveries", Duration::from_secs(10), || async {
        let n = s.fake.delivery_attempts().iter().filter(|a| a.event_id == evt).count();
        (n >= 3).then_some(())
    })
    .await;
    assert!(s.events.drain(Duration::from_millis(800)).await.is_empty(), "a duplicate emitted another event");
    let again = s.payment(buyer, &id).await;
    assert_eq!(again["receipt_number"], paid["receipt_number"]);
    let history: Value = s.get_as(buyer, &[Role::Learner], "/api/payments/history").await.json().await.unwrap();
    assert_eq!(history["data"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_or_altered_webhooks_are_refused_and_change_nothing() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "12.00").await;
    let id = payment["id"].as_str().unwrap().to_string();
    let intent = s.intent_of(&payment);
    let body = serde_json::to_vec(&json!({
        "id": "evt_forged_1", "object": "event", "type": "payment_intent.succeeded", "created": now(),
        "livemode": false, "data": {"object": {"id": intent, "object": "payment_intent", "status": "succeeded"}}
    }))
    .unwrap();
    let cases = [
        ("wrong secret", body.clone(), stripe::sign("whsec_attacker", now(), &body)),
        ("stale timestamp", body.clone(), stripe::sign(WEBHOOK_SECRET, now() - 3600, &body)),
        ("garbage header", body.clone(), "t=abc,v1=zz".to_string()),
    ];
    for (name, b, sig) in cases {
        let res = post_webhook(&s, &b, &sig).await;
        assert_eq!(res.status(), 400, "{name}");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["code"], "invalid_webhook", "{name}");
    }
    // One byte changed after signing.
    let sig = stripe::sign(WEBHOOK_SECRET, now(), &body);
    let mut altered = body.clone();
    let pos = altered.iter().position(|b| *b == b'1').unwrap();
    altered[pos] = b'2';
    assert_eq!(post_webhook(&s, &altered, &sig).await.status(), 400);
    assert_eq!(s.payment(buyer, &id).await["status"], "requires_payment_method");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_accepted_during_the_overlap() {
    let s = Stack::start_with(|c| {
        c.stripe_webhook_secrets = platform::config::Secret::new("whsec_next, whsec_test_current")
    })
    .await;
    let body = serde_json::to_vec(&json!({
        "id": "evt_rotation", "object": "event", "type": "customer.created", "created": now(),
        "livemode": false, "data": {"object": {"id": "cus_x", "object": "customer"}}
    }))
    .unwrap();
    for secret in ["whsec_next", WEBHOOK_SECRET] {
        let res = post_webhook(&s, &body, &stripe::sign(secret, now(), &body)).await;
        assert_eq!(res.status(), 200, "{secret}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_events_never_downgrade_a_succeeded_payment() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "30.00").await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.fake.hold_events();
    s.confirm(&payment, "pm_card_chargeDeclined");
    s.confirm(&payment, "pm_card_visa");
    let failed = s.fake.events_of_type("payment_intent.payment_failed")[0]["id"].as_str().unwrap().to_string();
    let succeeded = s.fake.events_of_type("payment_intent.succeeded")[0]["id"].as_str().unwrap().to_string();
    // The success arrives first, the earlier failure late.
    s.fake.release_events(&[&succeeded, &failed]).await;
    s.wait_status(buyer, &id, "succeeded").await;
    s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = s.payment(buyer, &id).await;
    assert_eq!(p["status"], "succeeded");
    assert!(p["receipt_number"].is_string());
    let late: Vec<_> = s.events.drain(Duration::from_millis(500)).await;
    assert!(late.iter().all(|e| e.event_type != "billing.payment.failed.v1"), "a late failure was announced");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_event_types_are_acknowledged_and_ignored() {
    let s = Stack::start().await;
    let body = serde_json::to_vec(&json!({
        "id": "evt_other", "object": "event", "type": "invoice.finalized", "created": now(),
        "livemode": false, "data": {"object": {"id": "in_1", "object": "invoice"}}
    }))
    .unwrap();
    let res = post_webhook(&s, &body, &stripe::sign(WEBHOOK_SECRET, now(), &body)).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["outcome"], "ignored");
    s.stop().await;
}
