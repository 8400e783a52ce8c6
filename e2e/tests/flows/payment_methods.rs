//! Saved cards through the gateway: a renewal that failed on the card is retried at once when the
//! subscriber saves a new default card (billing -> billing.payment_method.default_changed.v1 ->
//! subscriptions), and nobody can remove another user's card.

use crate::subscription::{me, period_end, subscribe};
use crate::support::{str_of, Platform, User};
use chrono::Duration;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// What the app does: a SetupIntent from billing, confirmed with the card (stripe-fake's control
/// endpoint stands in for Stripe.js).
pub(crate) async fn save_card(p: &Platform, user: &User, card: &str) {
    let res = p.post_key(user, "/api/payments/methods/setup", json!({}), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    p.fake.confirm_setup_intent(&str_of(&res.body["setup_intent_id"]), card).expect("the card is saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_default_card_rescues_a_past_due_renewal_and_cards_stay_their_owners() {
    let p = Platform::start().await;
    let alice = User::learner();
    let m = subscribe(&p, &alice, "pro", "pm_card_authenticationRequired").await;
    let sub = str_of(&m["subscription"]["id"]);
    let end = period_end(&m);
    p.subscriptions_clock.set(end + Duration::seconds(1));
    p.events
        .wait_for("subscriptions.subscription.past_due.v1", |d| {
            d["subscription_id"] == sub.as_str() && d["attempt"] == 1
        })
        .await;

    // The clock stays: the retry happens because of the new card, not the schedule.
    save_card(&p, &alice, "pm_card_visa").await;
    let changed =
        p.events.wait_for("billing.payment_method.default_changed.v1", |d| d["user_id"] == alice.id.to_string()).await;
    assert_eq!(changed.data["last4"], "4242");
    let renewed = p
        .eventually("the renewal retried with the new card", || async {
            let m = me(&p, &alice).await;
            (m["subscription"]["status"] == "active" && period_end(&m) > end).then_some(m)
        })
        .await;
    assert_eq!(renewed["subscription"]["id"], sub.as_str());
    assert_eq!(p.feature(&alice, "certificates").await["allowed"], true);

    let cards = p.get(Some(&alice), "/api/payments/methods").await;
    assert_eq!(cards.status, 200, "{}", cards.body);
    let default: Vec<_> = cards.body["data"].as_array().unwrap().iter().filter(|c| c["default"] == true).collect();
    assert_eq!((default.len(), default[0]["last4"].as_str()), (1, Some("4242")));
    let card_id = str_of(&default[0]["id"]);

    // Bob sees none of it and can neither remove nor choose Alice's card.
    let bob = User::learner();
    let bobs = p.get(Some(&bob), "/api/payments/methods").await;
    assert_eq!(bobs.body["data"], json!([]));
    let path = format!("/api/payments/methods/{card_id}?allow_no_default=true");
    let res = p.call(Method::DELETE, &path, Some(&bob), None, None).await;
    assert_eq!(res.status, 404, "{}", res.body);
    let res = p.call(Method::POST, &format!("/api/payments/methods/{card_id}/default"), Some(&bob), None, None).await;
    assert_eq!(res.status, 404, "{}", res.body);
    let still = p.get(Some(&alice), "/api/payments/methods").await;
    assert!(still.body["data"].as_array().unwrap().iter().any(|c| c["id"] == card_id.as_str()));
    p.stop().await;
}
