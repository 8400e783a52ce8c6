//! Issue 20, point 2, through the gateway: an admin creates coupons and promotion codes; learners
//! subscribe with a code and pay with stripe-fake; billing takes the discounted amount; the next
//! renewal (clock advanced) is discounted only when the coupon's duration covers it.

use crate::subscription::{me, period_end};
use crate::support::{intent_of, str_of, Platform, User};
use chrono::Duration;
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) async fn coupon_with_code(p: &Platform, admin: &User, terms: Value, code: &str) {
    let res = p.post_key(admin, "/api/admin/coupons", terms, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let path = format!("/api/admin/coupons/{}/promotion-codes", str_of(&res.body["id"]));
    let res = p.post_key(admin, &path, json!({"code": code}), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
}

async fn subscribe_with(p: &Platform, user: &User, code: &str) -> Value {
    let body = json!({"tier": "pro", "promotion_code": code});
    let res = p.post_key(user, "/api/subscriptions", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let _ = p.fake.confirm_payment_intent(&intent_of(&res.body["client_secret"]), "pm_card_visa");
    p.eventually("subscription active", || async {
        let m = me(p, user).await;
        (m["subscription"]["status"] == "active").then_some(m)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_code_discounts_the_payment_and_only_the_renewals_its_duration_covers() {
    let p = Platform::start().await;
    let admin = User::admin();
    let learner = User::learner();
    let terms = json!({"name": "Mine", "percent_off": "100", "duration": "forever"});
    let refused = p.post_key(&learner, "/api/admin/coupons", terms, "k").await;
    assert_eq!(refused.status, 403, "admins only: {}", refused.body);
    coupon_with_code(&p, &admin, json!({"name": "Half once", "percent_off": "50", "duration": "once"}), "HALFONCE")
        .await;
    let terms = json!({"name": "Two months", "percent_off": "50", "duration": "repeating", "duration_in_months": 2});
    coupon_with_code(&p, &admin, terms, "HALF2").await;

    let once = User::learner();
    let repeating = User::learner();
    let m_once = subscribe_with(&p, &once, "halfonce").await;
    let m_rep = subscribe_with(&p, &repeating, "HALF2").await;
    assert_eq!(m_once["discount"]["code"], "HALFONCE");
    for user in [&once, &repeating] {
        // Billing charged 9.99 less 5.00 (50 % of 9.99 = 4.995, half-even to 5.00).
        let paid = p.events.wait_for("billing.payment.succeeded.v1", |d| d["user_id"] == user.id.to_string()).await;
        assert_eq!(paid.data["amount"]["amount"], "4.99", "{}", paid.data);
        p.events.wait_for("subscriptions.coupon.redeemed.v1", |d| d["user_id"] == user.id.to_string()).await;
    }

    // Both renew (the same instant: both started on this clock).
    let end = period_end(&m_once).max(period_end(&m_rep));
    p.subscriptions_clock.set(end + Duration::seconds(1));
    for (user, expected) in [(&once, "9.99"), (&repeating, "4.99")] {
        let renewed =
            p.events.wait_for("subscriptions.subscription.renewed.v1", |d| d["user_id"] == user.id.to_string()).await;
        assert_eq!(renewed.data["amount"]["amount"], expected, "{}", renewed.data);
    }
    // What Stripe took: two discounted first payments, the repeating renewal discounted, the
    // once renewal in full.
    let amounts: Vec<i64> = p
        .fake
        .payment_intents()
        .iter()
        .filter(|pi| pi["status"] == "succeeded")
        .filter_map(|pi| pi["amount"].as_i64())
        .collect();
    assert_eq!(amounts.iter().filter(|a| **a == 499).count(), 3, "{amounts:?}");
    assert_eq!(amounts.iter().filter(|a| **a == 999).count(), 1, "{amounts:?}");
    p.stop().await;
}
