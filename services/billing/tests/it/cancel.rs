//! `POST /internal/payments/{id}/cancel` (issue 15 point 2): marketplace's expiry cancels an
//! abandoned payment's intent now, or learns the customer paid after all.

use crate::support::Stack;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn cancel(s: &Stack, caller: &str, id: &str, key: &str) -> reqwest::Response {
    s.http
        .post(s.url(&format!("/internal/payments/{id}/cancel")))
        .header("x-internal-token", testkit::service_token(caller, "billing"))
        .header("idempotency-key", key)
        .json(&json!({"reason": "purchase_expired"}))
        .send()
        .await
        .unwrap()
}

fn intent_status(s: &Stack, intent: &str) -> Value {
    s.fake.payment_intents().into_iter().find(|pi| pi["id"] == intent).unwrap()["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_intent_is_canceled_at_stripe_and_the_answer_replays() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "12.00").await;
    let id = payment["id"].as_str().unwrap();
    let intent = s.intent_of(&payment);

    let res = cancel(&s, "marketplace", id, "expire-1").await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!((answer["outcome"].as_str(), answer["already_final"].as_bool()), (Some("canceled"), Some(false)));
    assert_eq!(answer["payment"]["status"], "canceled");
    assert_eq!(intent_status(&s, &intent), "canceled");
    assert!(s.fake.confirm_payment_intent(&intent, "pm_card_visa").is_err(), "a canceled intent cannot be paid");

    let again = cancel(&s, "marketplace", id, "expire-1").await;
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let fresh: Value = cancel(&s, "marketplace", id, "expire-2").await.json().await.unwrap();
    assert_eq!((fresh["outcome"].as_str(), fresh["already_final"].as_bool()), (Some("canceled"), Some(true)));
    assert!(s.events.drain(Duration::from_millis(500)).await.is_empty(), "a cancel announces nothing");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_paid_before_the_cancel_is_recorded_as_succeeded_once() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "12.00").await;
    let id = payment["id"].as_str().unwrap();
    // Paid, and its webhook lost (or not there yet): Stripe refuses the cancel.
    s.fake.drop_webhooks(&s.intent_of(&payment));
    s.confirm(&payment, "pm_card_visa");

    let answer: Value = cancel(&s, "marketplace", id, "expire-1").await.json().await.unwrap();
    assert_eq!((answer["outcome"].as_str(), answer["already_final"].as_bool()), (Some("succeeded"), Some(false)));
    assert_eq!(answer["payment"]["status"], "succeeded");
    assert!(answer["payment"]["receipt_number"].is_string());
    let event = s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    assert_eq!(event.data["payment_id"], id);

    // The webhook arrives late: nothing more.
    for evt in s.fake.dropped_event_ids() {
        s.fake.resend_event(&evt).unwrap();
    }
    assert!(s.events.drain(Duration::from_millis(1_500)).await.is_empty(), "announced twice");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owning_service_may_cancel_and_unknown_payments_are_404() {
    let s = Stack::start().await;
    let payment = s.new_payment(Uuid::now_v7(), "12.00").await;
    let id = payment["id"].as_str().unwrap();
    assert_eq!(cancel(&s, "subscriptions", id, "k").await.status(), 403);
    assert_eq!(cancel(&s, "marketplace", &Uuid::now_v7().to_string(), "k").await.status(), 404);
    let learner = s
        .http
        .post(s.url(&format!("/internal/payments/{id}/cancel")))
        .header("x-internal-token", testkit::internal_token("billing", &Uuid::now_v7().to_string(), &[]))
        .header("idempotency-key", "k")
        .json(&json!({"reason": "purchase_expired"}))
        .send()
        .await
        .unwrap();
    assert_eq!(learner.status(), 403);
    let bad = s
        .http
        .post(s.url(&format!("/internal/payments/{id}/cancel")))
        .header("x-internal-token", testkit::service_token("marketplace", "billing"))
        .header("idempotency-key", "k2")
        .json(&json!({"reason": "Bad Reason\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(intent_status(&s, &s.intent_of(&payment)), "requires_payment_method");
    s.stop().await;
}
