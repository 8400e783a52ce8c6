//! Contract R on marketplace's side: billing's `ends_access` decides access, for partial refunds
//! too; earnings are reversed proportionally for every refund. The refund events are published
//! as billing sends them (billing builds the policy; here only marketplace's reaction is tested).

use crate::support::Market;
use chrono::Utc;
use events::CloudEvent;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

/// A paid purchase of `course_id` by a new buyer: (buyer, purchase id, payment id).
async fn paid(m: &Market, course_id: &str) -> (Uuid, String, String) {
    let buyer = Uuid::now_v7();
    let purchase: Value = m.buy(buyer, course_id, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    let id = purchase["id"].as_str().unwrap().to_string();
    (buyer, id, purchase["payment_id"].as_str().unwrap().to_string())
}

/// `billing.payment.refunded.v1` for a 20.00 course payment; `ends_access` left out when `None`
/// (an event from before the field existed).
fn refunded(
    buyer: Uuid,
    purchase: &str,
    payment: &str,
    amount: &str,
    total: &str,
    ends_access: Option<bool>,
) -> CloudEvent {
    let mut data = json!({
        "payment_id": payment, "user_id": buyer, "purpose": "course_purchase", "reference_id": purchase,
        "amount": {"amount": "20.00", "currency": "USD"},
        "refunded_amount": {"amount": amount, "currency": "USD"},
        "total_refunded": {"amount": total, "currency": "USD"},
        "fully_refunded": total == "20.00",
        "reason": if ends_access == Some(false) { "goodwill" } else { "requested_by_customer" },
        "initiated_by": if ends_access == Some(false) { "admin" } else { "buyer" },
        "refunded_at": Utc::now(),
    });
    if let Some(ends) = ends_access {
        data["ends_access"] = json!(ends);
    }
    CloudEvent {
        specversion: "1.0".into(),
        id: Uuid::now_v7(),
        source: "/services/billing".into(),
        event_type: "billing.payment.refunded.v1".into(),
        time: Utc::now(),
        subject: payment.to_string(),
        datacontenttype: "application/json".into(),
        dataschema: "events/billing/payment.refunded.v1.json".into(),
        traceparent: None,
        tracestate: None,
        data,
    }
}

async fn can_download(m: &Market, buyer: Uuid, course_id: &str) -> bool {
    let res = m.get(Some((buyer, &[Role::Learner])), &format!("/api/courses/{course_id}/content")).await;
    res.status() == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_that_ends_access_revokes_it_and_a_goodwill_one_keeps_it() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.purchase.refunded.v1"]).await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();

    // The buyer had 19.99 of 20.00 refunded: their access ends, 70% of 19.99 is reversed.
    let (asker, purchase, payment) = paid(&m, course_id).await;
    testkit::bus::publish_raw(&m.env, &refunded(asker, &purchase, &payment, "19.99", "19.99", Some(true))).await;
    let e = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(e.data["purchase_id"], purchase.as_str());
    assert_eq!((e.data["fully_refunded"].clone(), e.data["access_ended"].clone()), (json!(false), json!(true)));
    assert_eq!(e.data["instructor_reversal"]["amount"], "13.99");
    assert!(m.owned(asker).await.is_empty(), "access revoked");
    assert!(!can_download(&m, asker, course_id).await);

    // An admin's goodwill 5.00 keeps access; the reversal is still proportional.
    let (kept, purchase, payment) = paid(&m, course_id).await;
    testkit::bus::publish_raw(&m.env, &refunded(kept, &purchase, &payment, "5.00", "5.00", Some(false))).await;
    let e = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!((e.data["fully_refunded"].clone(), e.data["access_ended"].clone()), (json!(false), json!(false)));
    assert_eq!(e.data["instructor_reversal"]["amount"], "3.50");
    assert!(can_download(&m, kept, course_id).await, "goodwill keeps access");

    // A refund event from before `ends_access` existed reads it as `fully_refunded` (off today's
    // contract on purpose: the shape billing published before contract R).
    testkit::bus::publish_off_contract(&m.env, &refunded(kept, &purchase, &payment, "1.00", "6.00", None)).await;
    let e = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(e.data["access_ended"], false);
    assert!(can_download(&m, kept, course_id).await);
    testkit::bus::publish_off_contract(&m.env, &refunded(kept, &purchase, &payment, "14.00", "20.00", None)).await;
    let e = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!((e.data["fully_refunded"].clone(), e.data["access_ended"].clone()), (json!(true), json!(true)));
    assert!(!can_download(&m, kept, course_id).await);

    // Two sales, four reversals: 14.00 + 14.00 - 13.99 - 3.50 - 0.70 - 9.80 = 0.01 pending.
    let earnings = m.earnings(instructor).await;
    assert_eq!(earnings["totals"][0]["by_status"]["pending"]["amount"], "0.01", "{earnings}");
    assert_eq!(earnings["data"].as_array().unwrap().len(), 6, "{earnings}");
    m.stop().await;
}
