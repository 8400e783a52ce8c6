//! Flow 6, the failure paths: a declined card, RabbitMQ stopped in the middle of a purchase, and
//! a Stripe webhook delivered more than once.

use crate::support::{str_of, unique_word, Bought, BrokerDown, Platform, User, Witness};
use serde_json::{json, Value};

/// A course by a fresh instructor, published at 20.00 USD.
async fn course(p: &Platform) -> String {
    let c = p.publish_course(&User::instructor(), &format!("{} resilient systems", unique_word()), "20.00").await;
    str_of(&c["id"])
}

async fn payment(p: &Platform, user: &User, id: &str) -> Value {
    let res = p.get(Some(user), &format!("/api/payments/{id}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

/// The buyer's billing-history lines of `payment_id` of `kind`.
async fn history_lines(p: &Platform, user: &User, payment_id: &str, kind: &str) -> usize {
    let res = p.get(Some(user), "/api/payments/history?limit=100").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|l| l["payment_id"] == payment_id && l["kind"] == kind)
        .count()
}

/// Exactly one of everything a purchase causes: access, sale, tokens, and one of each event.
async fn assert_purchased_once(p: &Platform, buyer: &User, course_id: &str, bought: &Bought) {
    assert_eq!(p.owned(buyer, course_id).await.len(), 1, "one access");
    let earned = p.transactions(buyer, "earn").await;
    assert_eq!(earned.len(), 1, "tokens awarded once: {earned:?}");
    assert_eq!(p.balance(buyer).await, earned[0]["amount"].as_i64().expect("amount"));
    let receipt = p.get(Some(buyer), &format!("/api/payments/{}/receipt", bought.payment_id)).await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    let paid = p.events.distinct("billing.payment.succeeded.v1", |d| d["payment_id"] == bought.payment_id.as_str());
    assert_eq!(paid.len(), 1, "one payment.succeeded");
    let sold =
        p.events.distinct("marketplace.course.purchased.v1", |d| d["purchase_id"] == bought.purchase_id.as_str());
    assert_eq!(sold.len(), 1, "one CoursePurchased");
    let awarded = p.events.distinct("rewards.tokens.awarded.v1", |d| d["user_id"] == buyer.id.to_string());
    assert_eq!(awarded.len(), 1, "one tokens.awarded");
}

/// Another buyer's purchase, all the way to their tokens: whatever the earlier steps queued in
/// billing's, marketplace's and rewards' outboxes and queues has been handled by then.
async fn barrier(p: &Platform, course_id: &str) {
    let other = User::learner();
    p.buy(&other, course_id).await;
    p.events.wait_for("rewards.tokens.awarded.v1", |d| d["user_id"] == other.id.to_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_leaves_no_access_and_no_tokens() {
    let p = Platform::start().await;
    let course_id = course(&p).await;
    let learner = User::learner();
    let purchase = p.purchase(&learner, &course_id).await;
    let payment_id = str_of(&purchase["payment_id"]);
    p.confirm(&purchase["client_secret"], "pm_card_chargeDeclined");

    // As with Stripe, the declined attempt leaves the payment awaiting another method.
    let failed = p
        .eventually("the declined attempt", || async {
            let pay = payment(&p, &learner, &payment_id).await;
            pay["failure_code"].is_string().then_some(pay)
        })
        .await;
    assert_eq!(failed["status"], "requires_payment_method", "{failed}");
    assert!(failed["receipt_number"].is_null(), "{failed}");
    let event = p.events.wait_for("billing.payment.failed.v1", |d| d["payment_id"] == payment_id.as_str()).await;
    assert_eq!(event.data["user_id"], learner.id.to_string());

    // Marketplace failed the purchase: buying again starts a new one (a pending purchase would
    // be handed back instead).
    let first = str_of(&purchase["id"]);
    p.eventually("the purchase to fail", || async {
        let key = uuid::Uuid::new_v4().to_string();
        let res = p.post_key(&learner, "/api/courses/purchase", json!({"course_id": course_id}), &key).await;
        assert!(res.is_success(), "{}", res.body);
        (res.body["id"] != first.as_str()).then_some(())
    })
    .await;

    barrier(&p, &course_id).await;
    assert!(p.owned(&learner, &course_id).await.is_empty(), "no access");
    assert_eq!(p.get(Some(&learner), &format!("/api/courses/{course_id}/content")).await.status, 403);
    assert_eq!(p.balance(&learner).await, 0, "no tokens");
    assert!(p.transactions(&learner, "earn").await.is_empty());
    assert!(p
        .events
        .distinct("marketplace.course.purchased.v1", |d| d["buyer_id"] == learner.id.to_string())
        .is_empty());
    let receipt = p.get(Some(&learner), &format!("/api/payments/{payment_id}/receipt")).await;
    assert_eq!(receipt.status, 404, "no receipt for a failed payment: {}", receipt.body);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_in_the_middle_of_a_purchase_loses_and_doubles_nothing() {
    // No other flow of this binary runs while the broker is down.
    let p = Platform::start_exclusive().await;
    let course_id = course(&p).await;
    let learner = User::learner();
    let purchase = p.purchase(&learner, &course_id).await;
    let payment_id = str_of(&purchase["payment_id"]);

    // Stripe's webhook reaches billing while the broker is down: the payment succeeds, and its
    // event waits in billing's outbox.
    let witness = Witness::bind(&p.env).await;
    p.fake.hold_events();
    let intent = p.confirm(&purchase["client_secret"], "pm_card_visa");
    let bindings = p.events.bindings();
    let broker = BrokerDown::stop();
    p.fake.release_events(&[]).await;
    p.eventually("the payment to succeed with the broker down", || async {
        (payment(&p, &learner, &payment_id).await["status"] == "succeeded").then_some(())
    })
    .await;
    assert!(p.owned(&learner, &course_id).await.is_empty(), "nothing can have travelled yet");
    broker.restart();
    p.events.wait_rebound(bindings).await;

    // The flow completes once the relays and consumers are back.
    p.wait_owned(&learner, &course_id).await;
    p.eventually("tokens for the purchase", || async { (p.balance(&learner).await > 0).then_some(()) }).await;
    let bought = Bought { purchase_id: str_of(&purchase["id"]), payment_id, intent };
    p.events.wait_for("marketplace.course.purchased.v1", |d| d["purchase_id"] == bought.purchase_id.as_str()).await;
    barrier(&p, &course_id).await;
    // What the capture missed while it was being bound again, the durable witness kept.
    p.events.merge(witness.drain().await);
    assert_purchased_once(&p, &learner, &course_id, &bought).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_stripe_webhook_changes_nothing() {
    let p = Platform::start().await;
    let course_id = course(&p).await;
    let learner = User::learner();
    let bought = p.buy(&learner, &course_id).await;
    let receipt = p.get(Some(&learner), &format!("/api/payments/{}/receipt", bought.payment_id)).await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    let tokens = p.balance(&learner).await;

    let event = p
        .fake
        .events_of_type("payment_intent.succeeded")
        .into_iter()
        .find(|e| e["data"]["object"]["id"] == bought.intent.as_str())
        .expect("Stripe's payment_intent.succeeded event");
    let evt_id = str_of(&event["id"]);
    p.fake.duplicate_event(&evt_id).expect("redelivery");
    p.eventually("both extra deliveries to be answered 2xx", || async {
        let ok = p
            .fake
            .delivery_attempts()
            .iter()
            .filter(|a| a.event_id == evt_id && a.delivered && a.status.is_some_and(|s| (200..300).contains(&s)))
            .count();
        (ok >= 3).then_some(())
    })
    .await;

    barrier(&p, &course_id).await;
    assert_purchased_once(&p, &learner, &course_id, &bought).await;
    assert_eq!(p.balance(&learner).await, tokens);
    let again = p.get(Some(&learner), &format!("/api/payments/{}/receipt", bought.payment_id)).await;
    assert_eq!(again.body["receipt_number"], receipt.body["receipt_number"], "one receipt");
    let lines = history_lines(&p, &learner, &bought.payment_id, "charge").await;
    assert_eq!(lines, 1, "one billing-history line");
    p.stop().await;
}
