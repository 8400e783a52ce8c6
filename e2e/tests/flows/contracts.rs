//! Flow 7, the event contracts: a run through every area of the platform with a capture bound to
//! `#`; every event seen validates against its schema (envelope and data, checked by the capture)
//! and has a type the catalogue declares.

use crate::support::{intent_of, str_of, unique_word, Platform, User};
use chrono::Duration;
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_a_full_run_is_in_the_catalogue_and_valid() {
    let p = Platform::start().await;
    let admin = User::admin();
    let learner = User::learner();

    // Marketplace and billing: purchase, review, refund.
    let course = p.publish_course(&User::instructor(), &format!("{} contracts", unique_word()), "12.50").await;
    let course_id = str_of(&course["id"]);
    let bought = p.buy(&learner, &course_id).await;
    let review =
        p.post(&learner, &format!("/api/courses/{course_id}/reviews"), json!({"rating": 5, "body": "Clear."})).await;
    assert_eq!(review.status, 201, "{}", review.body);
    let refund = p
        .post_key(
            &admin,
            &format!("/api/payments/{}/refunds", bought.payment_id),
            json!({"amount": "2.50", "reason": "requested_by_customer"}),
            &Uuid::new_v4().to_string(),
        )
        .await;
    assert!(refund.is_success(), "{}", refund.body);

    // Rewards: award and redeem.
    let award = json!({"user_id": learner.id, "amount": 1000, "reason": "contract run"});
    assert_eq!(p.post_key(&admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await.status, 201);
    let redeem = json!({"item": "pro_month"});
    assert_eq!(p.post_key(&learner, "/api/tokens/redeem", redeem, &Uuid::new_v4().to_string()).await.status, 201);

    // Licensing: a license and a seat.
    let now = chrono::Utc::now();
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Contracts {suffix}"), "domain": format!("c-{suffix}.example.org")},
        "seats": 2, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + Duration::days(30),
    });
    let created = p.post_key(&admin, "/api/enterprise/licenses/create", license, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let member = User::learner();
    let key = json!({"license_key": created.body["license_key"]});
    assert_eq!(p.post(&member, "/api/enterprise/licenses/activate", key).await.status, 201);

    // Subscriptions: a paid Pro subscription.
    let subscriber = User::learner();
    let sub = p.post_key(&subscriber, "/api/subscriptions", json!({"tier": "pro"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    let _ = p.fake.confirm_payment_intent(&intent_of(&sub.body["client_secret"]), "pm_card_visa");

    // Wait for the last consequence of each area.
    let expected = [
        "billing.payment.succeeded.v1",
        "billing.payment.refunded.v1",
        "marketplace.course.purchased.v1",
        "marketplace.review.posted.v1",
        "marketplace.purchase.refunded.v1",
        "rewards.tokens.awarded.v1",
        "rewards.tokens.redeemed.v1",
        "rewards.tokens.clawed_back.v1",
        "licensing.license.created.v1",
        "licensing.seat.activated.v1",
        "subscriptions.subscription.activated.v1",
    ];
    for t in expected {
        p.events.wait_for(t, |_| true).await;
    }
    p.wait_feature(&member, "team.management", true).await;
    p.wait_feature(&learner, "certificates", true).await;

    let seen: BTreeSet<String> = p.events.all().into_iter().map(|e| e.event_type).collect();
    let catalog = events::catalog::all_event_types();
    for t in &seen {
        assert!(catalog.contains(&t.as_str()), "{t} is not in events::catalog");
    }
    for t in expected {
        assert!(seen.contains(t), "{t} not seen: {seen:?}");
    }
    // And the recorder found nothing that broke a schema (checked again, with the rest, at stop).
    p.stop().await;
}
