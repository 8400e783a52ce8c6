//! Issue 15 points 2 and 3 through the gateway: an abandoned purchase expires with its
//! PaymentIntent canceled at Stripe (through billing), one paid just before expiring completes
//! instead, and payments and refunds whose webhooks Stripe never delivered are settled by billing's
//! reconciliation, with the late webhook changing nothing (no second event, no second grant).

use crate::support::{intent_of, str_of, unique_word, Platform, User};
use serde_json::{json, Value};
use std::time::Duration;

const PURCHASED: &str = "marketplace.course.purchased.v1";
const SUCCEEDED: &str = "billing.payment.succeeded.v1";
const REFUNDED: &str = "billing.payment.refunded.v1";

fn intent_status(p: &Platform, intent: &str) -> Value {
    p.fake.payment_intents().into_iter().find(|pi| pi["id"] == intent).expect("the intent")["status"].clone()
}

/// Delivers every webhook the fake dropped, late, and waits until billing answered each.
async fn deliver_dropped_late(p: &Platform) {
    let dropped = p.fake.dropped_event_ids();
    assert!(!dropped.is_empty(), "no webhook was dropped");
    for id in &dropped {
        p.fake.resend_event(id).expect("resend");
    }
    p.eventually("the late webhooks answered", || async {
        let attempts = p.fake.delivery_attempts();
        dropped.iter().all(|id| attempts.iter().any(|a| &a.event_id == id && a.delivered)).then_some(())
    })
    .await;
    // What they would set off (events, consumers) has had time to happen.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
}

async fn content_status(p: &Platform, learner: &User, course_id: &str) -> u16 {
    p.get(Some(learner), &format!("/api/courses/{course_id}/content")).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_purchase_expires_and_its_intent_is_canceled_at_stripe() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} abandoned checkout", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let abandoned = p.purchase(&learner, &course_id).await;
    let intent = intent_of(&abandoned["client_secret"]);

    p.marketplace_clock.advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    p.eventually("the intent canceled at Stripe", || async {
        (intent_status(&p, &intent) == "canceled").then_some(())
    })
    .await;
    assert!(p.fake.confirm_payment_intent(&intent, "pm_card_visa").is_err(), "an expired checkout took money");
    // The purchase is closed: buying again starts a new one, and only that one grants the course.
    let again = p
        .eventually("a new purchase", || async {
            let key = uuid::Uuid::new_v4().to_string();
            let res = p.post_key(&learner, "/api/courses/purchase", json!({"course_id": course_id}), &key).await;
            assert!(res.is_success(), "{}", res.body);
            (res.body["id"] != abandoned["id"]).then_some(res.body)
        })
        .await;
    assert_eq!(again["status"], "pending");
    assert!(p.owned(&learner, &course_id).await.is_empty());
    let payment = str_of(&abandoned["payment_id"]);
    assert!(p.events.distinct(SUCCEEDED, |d| d["payment_id"] == payment.as_str()).is_empty());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_paid_just_before_it_expires_completes_instead_once() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} paid at the last minute", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let purchase = p.purchase(&learner, &course_id).await;
    // Paid, and the webhook has not reached billing when the day is up.
    p.fake.drop_webhooks(&intent_of(&purchase["client_secret"]));
    p.confirm(&purchase["client_secret"], "pm_card_visa");
    p.marketplace_clock.advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));

    p.wait_owned(&learner, &course_id).await;
    let purchase_id = str_of(&purchase["id"]);
    p.events.wait_for(PURCHASED, |d| d["purchase_id"] == purchase_id.as_str()).await;
    p.eventually("tokens for the purchase", || async { (p.balance(&learner).await > 0).then_some(()) }).await;
    let tokens = p.balance(&learner).await;

    deliver_dropped_late(&p).await;
    let payment = str_of(&purchase["payment_id"]);
    assert_eq!(p.events.distinct(SUCCEEDED, |d| d["payment_id"] == payment.as_str()).len(), 1);
    assert_eq!(p.events.distinct(PURCHASED, |d| d["purchase_id"] == purchase_id.as_str()).len(), 1);
    assert!(p
        .events
        .distinct("marketplace.payment.void_requested.v1", |d| d["payment_id"] == payment.as_str())
        .is_empty());
    assert_eq!(p.owned(&learner, &course_id).await.len(), 1);
    assert_eq!(p.balance(&learner).await, tokens, "tokens awarded twice");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_webhooks_were_all_lost_completes_through_reconciliation_once() {
    let p = Platform::start_reconciling().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} lost webhook", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let purchase = p.purchase(&learner, &course_id).await;
    p.fake.drop_webhooks(&intent_of(&purchase["client_secret"]));
    p.confirm(&purchase["client_secret"], "pm_card_visa");

    // Nothing told billing; it asked Stripe, and the buyer got the course and the tokens.
    p.wait_owned(&learner, &course_id).await;
    p.eventually("tokens for the purchase", || async { (p.balance(&learner).await > 0).then_some(()) }).await;
    let tokens = p.balance(&learner).await;
    let payment = str_of(&purchase["payment_id"]);
    let receipt = p.get(Some(&learner), &format!("/api/payments/{payment}/receipt")).await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);

    deliver_dropped_late(&p).await;
    assert_eq!(p.events.distinct(SUCCEEDED, |d| d["payment_id"] == payment.as_str()).len(), 1);
    let purchase_id = str_of(&purchase["id"]);
    assert_eq!(p.events.distinct(PURCHASED, |d| d["purchase_id"] == purchase_id.as_str()).len(), 1);
    assert_eq!(p.owned(&learner, &course_id).await.len(), 1);
    assert_eq!(p.balance(&learner).await, tokens, "tokens awarded twice");
    let history = p.get(Some(&learner), "/api/payments/history").await;
    let charges = history.body["data"].as_array().expect("data").iter().filter(|l| l["kind"] == "charge").count();
    assert_eq!(charges, 1, "{}", history.body);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_webhook_was_lost_ends_access_through_reconciliation_once() {
    let p = Platform::start_reconciling().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} lost refund webhook", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let bought = p.buy(&learner, &course_id).await;
    p.fake.drop_webhooks(&bought.intent);

    let refund =
        p.post_key(&learner, &format!("/api/payments/{}/refunds", bought.payment_id), json!({}), "lost-refund-1").await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    p.eventually("access ended", || async {
        let status = content_status(&p, &learner, &course_id).await;
        (status == 403 || status == 404).then_some(())
    })
    .await;
    let payment = bought.payment_id.as_str();
    let event = p.events.wait_for(REFUNDED, |d| d["payment_id"] == payment).await;
    assert_eq!(event.data["ends_access"], true);
    p.events.wait_for("marketplace.purchase.refunded.v1", |d| d["purchase_id"] == bought.purchase_id.as_str()).await;

    deliver_dropped_late(&p).await;
    assert_eq!(p.events.distinct(REFUNDED, |d| d["payment_id"] == payment).len(), 1);
    assert_eq!(
        p.events
            .distinct("marketplace.purchase.refunded.v1", |d| d["purchase_id"] == bought.purchase_id.as_str())
            .len(),
        1
    );
    p.stop().await;
}
