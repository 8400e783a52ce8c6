//! Issue 14, item 1 (contract R): who may refund how much and why, and what each refund says
//! about the buyer's access in `billing.payment.refunded.v1`.

use crate::support::Stack;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

pub async fn paid(s: &Stack, buyer: Uuid, amount: &str) -> String {
    let payment = s.new_payment(buyer, amount).await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(buyer, &id, "succeeded").await;
    id
}

/// The next `billing.payment.refunded.v1` of payment `id`.
pub async fn refunded_event(s: &mut Stack, id: &str) -> Value {
    loop {
        let e = s.events.expect("billing.payment.refunded.v1", Duration::from_secs(15)).await;
        if e.subject == id {
            return e.data;
        }
    }
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_refunds_in_full_only_and_that_ends_access() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let id = paid(&s, buyer, "20.00").await;

    // Almost everything: refused, nothing asked of Stripe.
    let res = s
        .refund(buyer, &[Role::Learner], &id, json!({"amount": "19.99", "reason": "requested_by_customer"}), &key())
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "partial_refund_not_allowed");
    // Reasons other than their own are an admin's.
    for reason in ["goodwill", "duplicate", "fraudulent"] {
        let res = s.refund(buyer, &[Role::Learner], &id, json!({"reason": reason}), &key()).await;
        assert_eq!(res.status(), 403, "{reason}");
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "refund_reason_not_allowed", "{reason}");
    }
    let res = s.refund(buyer, &[Role::Learner], &id, json!({"reason": "unfulfillable"}), &key()).await;
    assert_eq!(res.status(), 422, "billing's own reason is not an API reason");
    assert!(s.fake.refunds().is_empty(), "nothing was refunded");

    // Everything left, with the amount given or omitted (reason omitted = requested_by_customer).
    let res = s.refund(buyer, &[Role::Learner], &id, json!({"amount": "20.00"}), &key()).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let refund: Value = res.json().await.unwrap();
    assert_eq!(refund["reason"], "requested_by_customer");
    let e = refunded_event(&mut s, &id).await;
    assert_eq!(e["reason"], "requested_by_customer");
    assert_eq!(e["initiated_by"], "buyer");
    assert_eq!(e["fully_refunded"], true);
    assert_eq!(e["ends_access"], true);
    assert_eq!(e["refunded_amount"]["amount"], "20.00");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_partial_goodwill_refund_keeps_access() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let id = paid(&s, buyer, "20.00").await;

    let res = s.refund(admin, &[Role::Admin], &id, json!({"amount": "5.00", "reason": "goodwill"}), &key()).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let e = refunded_event(&mut s, &id).await;
    assert_eq!(
        (&e["reason"], &e["initiated_by"], &e["ends_access"]),
        (&json!("goodwill"), &json!("admin"), &json!(false))
    );
    assert_eq!(e["fully_refunded"], false);
    // Stripe knows no "goodwill": sent without a reason, kept in the metadata.
    let at_stripe = &s.fake.refunds()[0];
    assert!(at_stripe["reason"].is_null(), "{at_stripe}");
    assert_eq!(at_stripe["metadata"]["reason"], "goodwill");

    // A partial refund for any other reason ends access.
    let res = s
        .refund(admin, &[Role::Admin], &id, json!({"amount": "5.00", "reason": "requested_by_customer"}), &key())
        .await;
    assert_eq!(res.status(), 201);
    let e = refunded_event(&mut s, &id).await;
    assert_eq!(
        (&e["reason"], &e["ends_access"], &e["fully_refunded"]),
        (&json!("requested_by_customer"), &json!(true), &json!(false))
    );
    assert_eq!(e["total_refunded"]["amount"], "10.00");

    // Goodwill for everything left is a full refund: it ends access too.
    let res = s.refund(admin, &[Role::Admin], &id, json!({"reason": "goodwill"}), &key()).await;
    assert_eq!(res.status(), 201);
    let e = refunded_event(&mut s, &id).await;
    assert_eq!((&e["fully_refunded"], &e["ends_access"]), (&json!(true), &json!(true)));
    assert_eq!(e["refunded_amount"]["amount"], "10.00");
    s.stop().await;
}

/// billing-B's automatic refunds (contract V) insert rows with `requested_by = "system"` and reason
/// `unfulfillable` through `store::refunds::insert`: the table takes them and the event says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_refund_row_is_announced_as_system_and_unfulfillable() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let id = paid(&s, buyer, "12.00").await;
    let payment_id: Uuid = id.parse().unwrap();
    let client = stripe::Client::new(s.fake.client_config()).unwrap();
    let row_id = Uuid::now_v7();
    let intent = {
        let mut conn = s.svc.pool.get().await.unwrap();
        billing::store::payments::find(&mut conn, payment_id).await.unwrap().unwrap().stripe_payment_intent_id
    };
    // The Stripe call first, the row after, as a worker without a transaction across the call does;
    // the webhook is held until the row is committed.
    s.fake.hold_events();
    let params = stripe::CreateRefund {
        payment_intent: Some(intent),
        metadata: [("refund_id".to_string(), row_id.to_string()), ("reason".to_string(), "unfulfillable".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let made =
        client.create_refund(&params, &stripe::IdempotencyKey::for_operation("void", row_id).unwrap()).await.unwrap();
    {
        let mut conn = s.svc.pool.get().await.unwrap();
        billing::store::refunds::insert(
            &mut conn,
            &billing::store::refunds::NewRefund {
                id: row_id,
                payment_id,
                amount: "12.00".parse().unwrap(),
                currency: "USD",
                reason: "unfulfillable",
                status: "succeeded",
                stripe_refund_id: &made.id,
                requested_by: "system",
            },
        )
        .await
        .expect("the refunds table takes unfulfillable refunds by the system");
    }
    s.fake.release_events(&[]).await;
    let e = refunded_event(&mut s, &id).await;
    assert_eq!(
        (&e["reason"], &e["initiated_by"], &e["ends_access"]),
        (&json!("unfulfillable"), &json!("system"), &json!(true))
    );
    assert_eq!(e["fully_refunded"], true);
    s.stop().await;
}
