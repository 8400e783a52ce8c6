use crate::support::Stack;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn paid(s: &Stack, buyer: Uuid, amount: &str) -> String {
    let payment = s.new_payment(buyer, amount).await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(buyer, &id, "succeeded").await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_refunds_sum_to_the_total_and_one_more_is_422() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let id = paid(&s, buyer, "10.00").await;
    s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    // Partial refunds are an admin's; a buyer refunds everything left.
    let admin = Uuid::now_v7();
    for (amount, key) in [("4.00", "r1"), ("6.00", "r2")] {
        let res = s
            .refund(admin, &[Role::Admin], &id, json!({"amount": amount, "reason": "requested_by_customer"}), key)
            .await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
    }
    let res =
        s.refund(admin, &[Role::Admin], &id, json!({"amount": "0.01", "reason": "requested_by_customer"}), "r3").await;
    assert_eq!(res.status(), 422);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["code"], "refund_exceeds_payment");

    let mut total = rust_decimal::Decimal::ZERO;
    let mut fully = false;
    while !fully {
        let e = s.events.expect("billing.payment.refunded.v1", Duration::from_secs(10)).await;
        total = e.data["total_refunded"]["amount"].as_str().unwrap().parse().unwrap();
        fully = e.data["fully_refunded"].as_bool().unwrap();
    }
    assert_eq!(total, "10.00".parse().unwrap());
    let payment = s.payment(buyer, &id).await;
    assert_eq!(payment["amount_refunded"]["amount"], "10.00");
    let receipt: Value =
        s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await.json().await.unwrap();
    assert_eq!(receipt["refunds"].as_array().unwrap().len(), 2);
    let history: Value = s.get_as(buyer, &[Role::Learner], "/api/payments/history").await.json().await.unwrap();
    let kinds: Vec<&str> = history["data"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["refund", "refund", "charge"], "newest first");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refunds_cannot_exceed_the_captured_amount() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let id = paid(&s, buyer, "10.00").await;
    let admin = Uuid::now_v7();
    let keys: Vec<String> = (0..6).map(|i| format!("concurrent-{i}")).collect();
    let attempts =
        keys.iter().map(|k| s.refund(admin, &[Role::Admin], &id, json!({"amount": "3.00", "reason": "duplicate"}), k));
    let statuses: Vec<u16> =
        futures_util::future::join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 422), "{statuses:?}");
    let refunded: i64 = s.fake.refunds().iter().map(|r| r["amount"].as_i64().unwrap()).sum();
    assert_eq!(refunded, 900);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_are_idempotent_and_only_for_admins_or_the_buyer() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let id = paid(&s, buyer, "10.00").await;
    let body = json!({"reason": "requested_by_customer"});
    let first: Value = s.refund(buyer, &[Role::Learner], &id, body.clone(), "same").await.json().await.unwrap();
    let again = s.refund(buyer, &[Role::Learner], &id, body.clone(), "same").await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(s.fake.refunds().len(), 1);
    let stranger = s.refund(Uuid::now_v7(), &[Role::Learner], &id, body.clone(), "x").await;
    assert_eq!(stranger.status(), 404);
    let bad = s.refund(buyer, &[Role::Learner], &id, json!({"amount": "1.00", "reason": "because"}), "y").await;
    assert_eq!(bad.status(), 422);
    let unknown =
        s.refund(buyer, &[Role::Learner], &id, json!({"amount": "1.00", "reason": "duplicate", "to": "me"}), "z").await;
    assert_eq!(unknown.status(), 422);
    s.stop().await;
}

/// An empty amount is not "everything" and an array is not a refund request: both are refused
/// and nothing reaches Stripe (both were once read as `{}`, a full refund).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_amount_or_an_array_body_refunds_nothing() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let id = paid(&s, buyer, "19.00").await;
    let empty = s.refund(buyer, &[Role::Learner], &id, json!({"amount": "", "reason": null}), "e").await;
    assert_eq!(empty.status(), 422);
    let problem: Value = empty.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "amount", "{problem}");
    let array = s.refund(buyer, &[Role::Learner], &id, json!([null, null]), "a").await;
    assert_eq!(array.status(), 422);
    let problem: Value = array.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    assert!(s.fake.refunds().is_empty(), "nothing refunded");
    s.stop().await;
}
