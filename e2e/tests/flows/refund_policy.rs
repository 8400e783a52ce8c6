//! Issue 14, item 1 (contract R) across services: a buyer's refund is full only and ends access;
//! an admin's partial `goodwill` refund keeps it; any other partial refund ends it.

use crate::support::{amount, str_of, unique_word, Platform, User};
use serde_json::json;

async fn content_status(p: &Platform, learner: &User, course_id: &str) -> u16 {
    p.get(Some(learner), &format!("/api/courses/{course_id}/content")).await.status
}

async fn wait_access_ended(p: &Platform, learner: &User, course_id: &str) {
    p.eventually("access ended", || async {
        let status = content_status(p, learner, course_id).await;
        (status == 403 || status == 404).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_refunds_are_full_and_end_access_goodwill_keeps_it() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let admin = User::admin();
    let word = unique_word();

    // A buyer's self-service refund: almost everything is refused, everything ends access.
    let first = p.publish_course(&instructor, &format!("{word} refund policy one"), "20.00").await;
    let first_id = str_of(&first["id"]);
    let bought = p.buy(&learner, &first_id).await;
    let refunds = format!("/api/payments/{}/refunds", bought.payment_id);
    let key = || uuid::Uuid::new_v4().to_string();
    let almost =
        p.post_key(&learner, &refunds, json!({"amount": "19.99", "reason": "requested_by_customer"}), &key()).await;
    assert_eq!(almost.status, 422, "{}", almost.body);
    assert_eq!(almost.body["code"], "partial_refund_not_allowed");
    assert_eq!(content_status(&p, &learner, &first_id).await, 200, "nothing was refunded");
    let goodwill = p.post_key(&learner, &refunds, json!({"amount": "5.00", "reason": "goodwill"}), &key()).await;
    assert_eq!(goodwill.status, 403, "goodwill is an admin's: {}", goodwill.body);

    let full = p.post_key(&learner, &refunds, json!({"reason": "requested_by_customer"}), &key()).await;
    assert_eq!(full.status, 201, "{}", full.body);
    assert_eq!(amount(&full.body["amount"]), "20.00");
    let event =
        p.events.wait_for("billing.payment.refunded.v1", |d| d["payment_id"] == bought.payment_id.as_str()).await;
    assert_eq!(event.data["initiated_by"], "buyer");
    assert_eq!(event.data["ends_access"], true);
    wait_access_ended(&p, &learner, &first_id).await;

    // An admin's partial goodwill refund keeps access.
    let second = p.publish_course(&instructor, &format!("{word} refund policy two"), "20.00").await;
    let second_id = str_of(&second["id"]);
    let bought = p.buy(&learner, &second_id).await;
    let refunds = format!("/api/payments/{}/refunds", bought.payment_id);
    let goodwill = p.post_key(&admin, &refunds, json!({"amount": "5.00", "reason": "goodwill"}), &key()).await;
    assert_eq!(goodwill.status, 201, "{}", goodwill.body);
    let event = p
        .events
        .wait_for("billing.payment.refunded.v1", |d| {
            d["payment_id"] == bought.payment_id.as_str() && d["reason"] == "goodwill"
        })
        .await;
    assert_eq!((&event.data["initiated_by"], &event.data["ends_access"]), (&json!("admin"), &json!(false)));
    // Marketplace has applied it (shares reversed) and the learner still has the course.
    p.events.wait_for("marketplace.purchase.refunded.v1", |d| d["purchase_id"] == bought.purchase_id.as_str()).await;
    assert_eq!(content_status(&p, &learner, &second_id).await, 200, "a partial goodwill refund keeps access");

    // Any other partial refund (here: the customer asked, through an admin) ends it.
    let partial =
        p.post_key(&admin, &refunds, json!({"amount": "5.00", "reason": "requested_by_customer"}), &key()).await;
    assert_eq!(partial.status, 201, "{}", partial.body);
    let event = p
        .events
        .wait_for("billing.payment.refunded.v1", |d| {
            d["payment_id"] == bought.payment_id.as_str() && d["reason"] == "requested_by_customer"
        })
        .await;
    assert_eq!((&event.data["fully_refunded"], &event.data["ends_access"]), (&json!(false), &json!(true)));
    wait_access_ended(&p, &learner, &second_id).await;
    p.stop().await;
}
