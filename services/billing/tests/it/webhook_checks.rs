//! Issue 14, item 7: webhook facts are checked against Stripe and our record; refunds made in
//! Stripe's dashboard and refunds that fail are reconciled.

use crate::refund_policy::{paid, refunded_event};
use crate::support::Stack;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

fn key() -> String {
    Uuid::new_v4().to_string()
}

async fn intent_of(s: &Stack, id: &str) -> String {
    let mut conn = s.svc.pool.get().await.unwrap();
    billing::store::payments::find(&mut conn, id.parse().unwrap()).await.unwrap().unwrap().stripe_payment_intent_id
}

/// Today the next API refund after a dashboard refund answers 500 (billing still thinks the whole
/// amount is left and Stripe refuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_refund_shrinks_what_is_left_and_is_announced() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let id = paid(&s, buyer, "20.00").await;
    s.fake.dashboard_refund(&intent_of(&s, &id).await, Some(500), None).unwrap();

    let e = refunded_event(&mut s, &id).await;
    assert_eq!(e["refunded_amount"]["amount"], "5.00");
    assert_eq!((&e["initiated_by"], &e["reason"]), (&json!("stripe"), &json!("goodwill")));
    assert_eq!((&e["fully_refunded"], &e["ends_access"]), (&json!(false), &json!(false)));
    assert_eq!(s.payment(buyer, &id).await["amount_refunded"]["amount"], "5.00");

    // Only 15.00 is left to refund here.
    let res = s.refund(admin, &[Role::Admin], &id, json!({"amount": "20.00", "reason": "duplicate"}), &key()).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "refund_exceeds_payment");
    let res = s.refund(admin, &[Role::Admin], &id, json!({"reason": "duplicate"}), &key()).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(res.json::<Value>().await.unwrap()["amount"]["amount"], "15.00");
    let e = refunded_event(&mut s, &id).await;
    assert_eq!(e["total_refunded"]["amount"], "20.00");
    assert_eq!((&e["fully_refunded"], &e["initiated_by"]), (&json!(true), &json!("admin")));

    // The buyer sees the charge and both refunds.
    let history: Value = s.get_as(buyer, &[Role::Learner], "/api/payments/history").await.json().await.unwrap();
    let kinds: Vec<&str> = history["data"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["refund", "refund", "charge"]);
    s.stop().await;
}

/// A dashboard refund whose webhook has not arrived yet: Stripe refuses our larger refund, which
/// is the caller's 422, not a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_refused_by_stripe_is_a_422_and_reserves_nothing() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let id = paid(&s, buyer, "20.00").await;
    s.fake.hold_events();
    s.fake.dashboard_refund(&intent_of(&s, &id).await, Some(500), None).unwrap();
    let res = s.refund(admin, &[Role::Admin], &id, json!({"reason": "duplicate"}), &key()).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "refund_exceeds_payment");
    let receipt: Value =
        s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await.json().await.unwrap();
    assert!(receipt["refunds"].as_array().unwrap().is_empty(), "the reservation was given back: {receipt}");
    s.fake.release_events(&[]).await;
    let res = s.refund(admin, &[Role::Admin], &id, json!({"reason": "duplicate"}), &key()).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(res.json::<Value>().await.unwrap()["amount"]["amount"], "15.00");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refund_is_recorded_and_no_longer_counts() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let id = paid(&s, buyer, "20.00").await;
    let res = s.refund(admin, &[Role::Admin], &id, json!({"amount": "5.00", "reason": "duplicate"}), &key()).await;
    assert_eq!(res.status(), 201);
    let refund_id: Uuid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    refunded_event(&mut s, &id).await;
    let stripe_id = s.fake.refunds()[0]["id"].as_str().unwrap().to_string();

    s.fake.fail_refund(&stripe_id).unwrap();
    let row = testkit::eventually("the refund recorded as failed", Duration::from_secs(15), || async {
        let mut conn = s.svc.pool.get().await.unwrap();
        let row = billing::store::refunds::find(&mut conn, refund_id).await.unwrap().unwrap();
        (row.status == "failed").then_some(row)
    })
    .await;
    assert_eq!(row.failure_reason.as_deref(), Some("expired_or_canceled_card"));
    assert_eq!(s.payment(buyer, &id).await["amount_refunded"]["amount"], "0.00");
    let receipt: Value =
        s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await.json().await.unwrap();
    assert!(receipt["refunds"].as_array().unwrap().is_empty(), "{receipt}");

    // All 20.00 can be refunded again.
    let res = s.refund(admin, &[Role::Admin], &id, json!({"reason": "duplicate"}), &key()).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(res.json::<Value>().await.unwrap()["amount"]["amount"], "20.00");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_for_another_amount_is_refused_flagged_and_not_retried() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "20.00").await;
    let id: Uuid = payment["id"].as_str().unwrap().parse().unwrap();
    // Our record and Stripe's intent disagree (Stripe will receive 20.00; we expect 25.00).
    {
        use billing::store::schema::payments;
        let mut conn = s.svc.pool.get().await.unwrap();
        diesel::update(payments::table.find(id))
            .set(payments::amount.eq(rust_decimal::Decimal::new(2500, 2)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    s.confirm(&payment, "pm_card_visa");
    let evt = s.fake.events_of_type("payment_intent.succeeded")[0]["id"].as_str().unwrap().to_string();
    let stored = testkit::eventually("the payment flagged", Duration::from_secs(15), || async {
        let mut conn = s.svc.pool.get().await.unwrap();
        let p = billing::store::payments::find(&mut conn, id).await.unwrap().unwrap();
        p.review_flag.is_some().then_some(p)
    })
    .await;
    assert_eq!(stored.review_flag.as_deref(), Some("amount_mismatch"));
    assert_ne!(stored.status, "succeeded");
    assert!(stored.receipt_number.is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attempts: Vec<_> = s.fake.delivery_attempts().into_iter().filter(|a| a.event_id == evt).collect();
    assert_eq!(attempts.len(), 1, "answered so that Stripe does not retry: {attempts:?}");
    let seen = s.events.drain(Duration::from_millis(500)).await;
    assert!(seen.iter().all(|e| e.event_type != "billing.payment.succeeded.v1"), "no success announced");
    s.stop().await;
}
