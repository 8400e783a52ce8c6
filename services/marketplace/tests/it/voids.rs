//! Contract V on marketplace's side: a payment marketplace will never use is handed back to billing
//! through `marketplace.payment.void_requested.v1`, and never grants twice or books twice.

use crate::purchase::purchase_status;
use crate::support::Market;
use events::catalog::billing::{PaymentPurpose, PaymentSucceeded};
use events::CloudEvent;
use platform::auth::Role;
use platform::money::{Currency, Money};
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

const VOID: &str = "marketplace.payment.void_requested.v1";

/// A purchase whose first card was declined, once marketplace has failed it.
async fn declined(m: &Market, buyer: Uuid, course_id: &str) -> Value {
    let purchase: Value = m.buy(buyer, course_id, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_chargeDeclined");
    let id = purchase["id"].as_str().unwrap().to_string();
    testkit::eventually("the purchase to fail", Duration::from_secs(20), || async {
        (purchase_status(m, &id).await == "failed").then_some(())
    })
    .await;
    purchase
}

/// The success billing would announce if the customer paid `purchase`'s intent before billing had
/// canceled it. Published by hand: billing (in-process here) cancels a voided intent at once, so
/// the real race is only caught in the e2e flow, which accepts either order.
async fn late_success(m: &Market, buyer: Uuid, purchase: &Value) {
    let event = PaymentSucceeded {
        payment_id: purchase["payment_id"].as_str().unwrap().parse().unwrap(),
        user_id: buyer,
        amount: Money::new(
            purchase["price"]["amount"].as_str().unwrap().parse().unwrap(),
            "USD".parse::<Currency>().unwrap(),
        )
        .unwrap(),
        tax: None,
        purpose: PaymentPurpose::CoursePurchase,
        reference_id: purchase["id"].as_str().unwrap().to_string(),
        receipt_number: "RCPT-2026-000001".into(),
        succeeded_at: chrono::Utc::now(),
    };
    testkit::bus::publish_raw(&m.env, &CloudEvent::new(&event, None).unwrap()).await;
}

/// The next void request for `payment`.
async fn void_of(events: &mut Capture, payment: &Value) -> Value {
    loop {
        let e = events.expect(VOID, Duration::from_secs(20)).await;
        if e.data["payment_id"] == *payment {
            assert_eq!(e.subject, payment.as_str().unwrap());
            return e.data;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_for_a_course_already_owned_is_voided_and_granted_once() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();

    // Declined, then a second purchase: the first one's intent is voided at once.
    let first = declined(&m, buyer, course_id).await;
    let second: Value = m.buy(buyer, course_id, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    assert_ne!(second["id"], first["id"]);
    let void = void_of(&mut events, &first["payment_id"]).await;
    assert_eq!(void["reason"], "purchase_superseded");
    assert_eq!(void["reference_id"], first["id"]);
    assert_eq!(void["user_id"], buyer.to_string());

    // The second is paid; then the first intent turns out paid too (the customer confirmed it
    // before billing canceled it): its money is handed back, not a second access or sale.
    m.confirm(&second, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    late_success(&m, buyer, &first).await;
    let void = void_of(&mut events, &first["payment_id"]).await;
    assert_eq!(void["reason"], "purchase_superseded");
    assert_eq!(purchase_status(&m, first["id"].as_str().unwrap()).await, "failed");
    assert_eq!(m.owned(buyer).await, vec![course_id.to_string()], "owned once");
    let earnings = m.earnings(instructor).await;
    assert_eq!(earnings["data"].as_array().unwrap().len(), 1, "one sale booked: {earnings}");
    let seen = events.drain(Duration::from_millis(500)).await;
    assert!(seen
        .iter()
        .all(|e| e.event_type != "marketplace.course.purchased.v1" || e.data["purchase_id"] == second["id"]));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_purchase_paid_later_completes_unless_another_was_bought_meanwhile() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &[VOID]).await;
    let course = m.course(Uuid::now_v7(), json!({}), true).await;
    let course_id = course["id"].as_str().unwrap();

    // Retrying the same intent with another card after a decline still completes the purchase.
    let buyer = Uuid::now_v7();
    let first = declined(&m, buyer, course_id).await;
    m.confirm(&first, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    assert_eq!(purchase_status(&m, first["id"].as_str().unwrap()).await, "completed");
    assert!(events.next(Duration::from_millis(500)).await.is_none(), "nothing to void");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_purchase_expires_its_payment_is_voided_and_a_late_payment_grants_nothing() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let course = m.course(Uuid::now_v7(), json!({}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    let abandoned: Value = m.buy(buyer, course_id, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    assert_eq!(abandoned["status"], "pending");

    // A day later (the default expiry), the scheduler closes it and asks billing to void it.
    m.clock.advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    let void = void_of(&mut events, &abandoned["payment_id"]).await;
    assert_eq!(void["reason"], "purchase_expired");
    assert_eq!(purchase_status(&m, abandoned["id"].as_str().unwrap()).await, "failed");

    // Paid anyway (before billing canceled it): no access, the void is asked again.
    late_success(&m, buyer, &abandoned).await;
    let void = void_of(&mut events, &abandoned["payment_id"]).await;
    assert_eq!(void["reason"], "purchase_expired");
    assert!(m.owned(buyer).await.is_empty());
    let res = m.get(Some((buyer, &[Role::Learner])), &format!("/api/courses/{course_id}/content")).await;
    assert_eq!(res.status(), 403);

    // Buying again starts afresh.
    let again = m.buy(buyer, course_id, &Uuid::new_v4().to_string()).await;
    assert_eq!(again.status(), 201);
    m.stop().await;
}
