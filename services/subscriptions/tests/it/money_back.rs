//! Money subscriptions cannot use goes back (issue 14, item 2: `subscriptions.payment.void_requested.v1`,
//! contract V), and a refund of a subscription charge ends access (item 3, contract R).

use crate::support::{foreign_event, Stack};
use chrono::{Duration, Utc};
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

const WAIT: StdDuration = StdDuration::from_secs(20);
const VOID: &str = "subscriptions.payment.void_requested.v1";

/// Our charge id for a PaymentIntent: billing passes it to Stripe as `reference_id`.
fn charge_of(s: &Stack, intent: &str) -> String {
    let pi = s.fake.payment_intents().into_iter().find(|pi| pi["id"] == intent).expect("the PaymentIntent");
    pi["metadata"]["reference_id"].as_str().expect("reference_id").to_string()
}

fn payment_event(payment: &str, user: Uuid, charge: &str, extra: Value) -> Value {
    let mut data = json!({"payment_id": payment, "user_id": user, "purpose": "subscription", "reference_id": charge,
        "amount": {"amount": "9.99", "currency": "USD"}});
    for (k, v) in extra.as_object().unwrap() {
        data[k] = v.clone();
    }
    data
}

fn refunded(payment: &str, user: Uuid, charge: &str, fully: bool, ends_access: Option<bool>) -> Value {
    let mut extra = json!({"refunded_amount": {"amount": "9.99", "currency": "USD"},
        "total_refunded": {"amount": "9.99", "currency": "USD"}, "fully_refunded": fully,
        "refunded_at": Utc::now(), "reason": "goodwill", "initiated_by": "admin"});
    if let Some(e) = ends_access {
        extra["ends_access"] = json!(e);
    }
    payment_event(payment, user, charge, extra)
}

async fn wait_void(s: &mut Stack, payment: &str) -> events::CloudEvent {
    loop {
        let e = s.events.expect(VOID, WAIT).await;
        if e.data["payment_id"] == payment {
            return e;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_before_the_first_payment_voids_it_and_a_late_payment_goes_back() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let (created, intent) = s.subscribe_unpaid(user, "pro").await;
    let payment = created["payment_id"].as_str().unwrap().to_string();
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 200);
    let void = wait_void(&mut s, &payment).await;
    assert_eq!(void.data["reason"], "subscription_canceled");
    assert_eq!(void.data["user_id"], user.to_string());
    assert_eq!(void.data["reference_id"], charge_of(&s, &intent));
    assert_eq!(void.subject, payment);

    // The buyer confirms anyway. Once billing has canceled the intent the confirmation fails; if
    // it still goes through, the money is asked back again and the subscription stays canceled.
    if s.fake.confirm_payment_intent(&intent, "pm_card_visa").is_ok() {
        let again = wait_void(&mut s, &payment).await;
        assert_eq!(again.data["reason"], "subscription_canceled");
    }
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "canceled");
    assert_eq!(s.feature(user, "certificates").await["allowed"], false);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_first_payment_is_voided() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let (created, _) = s.subscribe_unpaid(user, "pro").await;
    let payment = created["payment_id"].as_str().unwrap().to_string();
    s.clock.advance(Duration::hours(24));
    let void = wait_void(&mut s, &payment).await;
    assert_eq!(void.data["reason"], "subscription_expired");
    assert_eq!(s.me(user).await["subscription"]["status"], "incomplete_expired");
    s.stop().await;
}

/// Every payment reaches subscriptions' queue; one for a course purchase is not its concern and is
/// acked without a transaction (no inbox row), while its own payments after it apply as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_payment_is_acked_without_a_transaction_and_ours_still_apply() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    let (_, intent) = s.subscribe_unpaid(user, "pro").await;
    let purchase = Uuid::now_v7().to_string();
    let extra = json!({"receipt_number": "RCPT-2026-000009", "succeeded_at": Utc::now()});
    let mut course = payment_event(&Uuid::now_v7().to_string(), user, &purchase, extra);
    course["purpose"] = json!("course_purchase");
    let course = foreign_event("billing.payment.succeeded.v1", course);
    testkit::bus::publish_raw(&s.env, &course).await;
    s.fake.confirm_payment_intent(&intent, "pm_card_visa").unwrap();
    s.wait_status(user, "active").await;
    let consumed = events::metrics::EventMetrics::new(&s.svc.metrics).consumed;
    testkit::eventually("the course payment settled as ignored", WAIT, || async {
        (consumed.get(&["billing.payment.succeeded.v1", events::metrics::outcome::IGNORED]) == 1).then_some(())
    })
    .await;
    assert!(!s.in_inbox(course.id).await, "a course payment left a row in subscriptions' inbox");
    assert_eq!(s.me(user).await["subscription"]["status"], "active");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_payment_for_a_charge_already_paid_goes_back() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let (_, intent) = s.subscribe_unpaid(user, "pro").await;
    s.fake.confirm_payment_intent(&intent, "pm_card_visa").unwrap();
    s.wait_status(user, "active").await;
    let charge = charge_of(&s, &intent);
    let second = Uuid::now_v7().to_string();
    let extra = json!({"receipt_number": "RCPT-2026-000002", "succeeded_at": Utc::now()});
    s.publish("billing.payment.succeeded.v1", payment_event(&second, user, &charge, extra)).await;
    let void = wait_void(&mut s, &second).await;
    assert_eq!(void.data["reason"], "duplicate_payment");
    assert_eq!(void.data["reference_id"], charge);
    assert_eq!(s.me(user).await["subscription"]["status"], "active", "the first payment still pays for it");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_full_refund_of_a_pro_payment_cancels_the_subscription_now() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let (created, intent) = s.subscribe_unpaid(user, "pro").await;
    let payment = created["payment_id"].as_str().unwrap().to_string();
    s.fake.confirm_payment_intent(&intent, "pm_card_visa").unwrap();
    s.wait_status(user, "active").await;
    assert_eq!(s.feature(user, "certificates").await["allowed"], true);

    let admin = testkit::internal_token("billing", &Uuid::now_v7().to_string(), &[Role::Admin]);
    let res = s
        .http
        .post(format!("{}/api/payments/{payment}/refunds", s.billing.url()))
        .header("x-internal-token", admin)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"reason": "requested_by_customer"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);

    let canceled = s.events.expect("subscriptions.subscription.canceled.v1", WAIT).await;
    assert_eq!(canceled.data["reason"], "refunded");
    assert_eq!(canceled.data["user_id"], user.to_string());
    let f = s.wait_feature(user, "certificates", false).await;
    assert_eq!(f["tier"], "free");
    let me = s.me(user).await;
    assert_eq!(me["subscription"]["status"], "canceled");
    // No renewal follows: nothing is due any more.
    s.clock.advance(Duration::days(40));
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "canceled");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_goodwill_refund_keeps_access() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    let (created, intent) = s.subscribe_unpaid(user, "pro").await;
    let payment = created["payment_id"].as_str().unwrap().to_string();
    s.fake.confirm_payment_intent(&intent, "pm_card_visa").unwrap();
    s.wait_status(user, "active").await;
    let charge = charge_of(&s, &intent);
    s.publish_applied("billing.payment.refunded.v1", refunded(&payment, user, &charge, false, Some(false))).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "active");
    assert_eq!(s.feature(user, "certificates").await["allowed"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_overtakes_its_payment_applies_after_it() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let (created, intent) = s.subscribe_unpaid(user, "pro").await;
    let payment = created["payment_id"].as_str().unwrap().to_string();
    let charge = charge_of(&s, &intent);
    // A refund event published before contract R (no `ends_access`): a full refund ends access.
    let mut refund = refunded(&payment, user, &charge, true, None);
    refund.as_object_mut().unwrap().remove("reason");
    refund.as_object_mut().unwrap().remove("initiated_by");
    // Off today's contract on purpose: the shape billing published before contract R.
    s.publish_off_contract("billing.payment.refunded.v1", refund).await;
    let extra = json!({"receipt_number": "RCPT-2026-000001", "succeeded_at": Utc::now()});
    s.publish("billing.payment.succeeded.v1", payment_event(&payment, user, &charge, extra)).await;
    let canceled = s.events.expect("subscriptions.subscription.canceled.v1", StdDuration::from_secs(120)).await;
    assert_eq!(canceled.data["reason"], "refunded");
    assert_eq!(s.me(user).await["subscription"]["status"], "canceled");
    s.stop().await;
}
