//! Coupons and promotion codes: admin API, redemption rules and limits under concurrency, and the
//! discount on the charges a coupon's duration covers (issue 20, point 2).

use crate::support::Stack;
use chrono::{DateTime, Duration, Utc};
use platform::auth::Role;
use platform::clock::Clock;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

async fn admin_post(s: &Stack, path: &str, body: Value) -> reqwest::Response {
    let admin = testkit::internal_token("subscriptions", &Uuid::now_v7().to_string(), &[Role::Admin]);
    s.http
        .post(format!("{}{path}", s.svc.url()))
        .header("x-internal-token", admin)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A coupon with `terms` and one promotion code `code`; the coupon's id.
async fn coupon_with_code(s: &Stack, terms: Value, code: &str) -> String {
    let res = admin_post(s, "/api/admin/coupons", terms).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let coupon: Value = res.json().await.unwrap();
    let id = coupon["id"].as_str().unwrap().to_string();
    let res = admin_post(s, &format!("/api/admin/coupons/{id}/promotion-codes"), json!({"code": code})).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    id
}

/// Subscribe with a promotion code and pay the first charge with a good card.
async fn subscribe_with_code(s: &Stack, user: Uuid, tier: &str, code: &str) -> Value {
    let body = json!({"tier": tier, "promotion_code": code});
    let res = s.post(user, "/api/subscriptions", body, Some(&Uuid::new_v4().to_string())).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    let pi = created["client_secret"].as_str().unwrap().split("_secret_").next().unwrap().to_string();
    s.fake.confirm_payment_intent(&pi, "pm_card_visa").unwrap();
    s.wait_status(user, "active").await
}

fn succeeded_amounts(s: &Stack) -> Vec<i64> {
    let mut amounts: Vec<i64> = s
        .fake
        .payment_intents()
        .iter()
        .filter(|pi| pi["status"] == "succeeded")
        .map(|pi| pi["amount"].as_i64().unwrap())
        .collect();
    amounts.sort();
    amounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_once_code_discounts_the_first_month_only_and_the_renewal_is_charged_in_full() {
    let mut s = Stack::start().await;
    coupon_with_code(&s, json!({"name": "Half off", "percent_off": "50", "duration": "once"}), "HALF").await;
    let user = Uuid::now_v7();
    // Codes are case-insensitive.
    let me = subscribe_with_code(&s, user, "pro", "half").await;
    let redeemed = s.events.expect("subscriptions.coupon.redeemed.v1", StdDuration::from_secs(10)).await;
    assert_eq!(redeemed.data["code"], "HALF");
    assert_eq!(redeemed.data["percent_off"], "50");
    assert_eq!(me["discount"]["code"], "HALF");
    // 9.99 - round_half_even(4.995) = 4.99.
    assert_eq!(succeeded_amounts(&s), vec![499]);

    let end = period_end(&me);
    s.clock.set(end + Duration::seconds(1));
    let renewed = s.events.expect("subscriptions.subscription.renewed.v1", StdDuration::from_secs(20)).await;
    assert_eq!(renewed.data["amount"]["amount"], "9.99", "once: the renewal is full price");
    assert_eq!(succeeded_amounts(&s), vec![499, 999]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_code_covers_the_months_it_promises_then_stops() {
    let mut s = Stack::start().await;
    let terms = json!({"name": "Five off", "amount_off": [{"amount": "5.00", "currency": "USD"}],
        "duration": "repeating", "duration_in_months": 2, "tiers": ["pro"]});
    coupon_with_code(&s, terms, "FIVE-OFF").await;
    let user = Uuid::now_v7();
    let me = subscribe_with_code(&s, user, "pro", "FIVE-OFF").await;
    assert_eq!(me["discount"]["duration_in_months"], 2);
    let mut end = period_end(&me);
    // Month 2 starts within 2 months of the redemption: discounted; month 3 does not.
    for expected in ["4.99", "9.99"] {
        s.clock.set(end + Duration::seconds(1));
        let renewed = s.events.expect("subscriptions.subscription.renewed.v1", StdDuration::from_secs(20)).await;
        assert_eq!(renewed.data["amount"]["amount"], expected);
        end = renewed.data["current_period_end"].as_str().unwrap().parse().unwrap();
    }
    assert_eq!(succeeded_amounts(&s), vec![499, 499, 999]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_discount_takes_no_payment_and_grants_the_period() {
    let s = Stack::start().await;
    coupon_with_code(&s, json!({"name": "Free month", "percent_off": "100", "duration": "once"}), "FREEMONTH").await;
    let user = Uuid::now_v7();
    let body = json!({"tier": "pro", "promotion_code": "FREEMONTH"});
    let res = s.post(user, "/api/subscriptions", body, Some("free-1")).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["subscription"]["status"], "active");
    assert!(created["payment_id"].is_null() && created["client_secret"].is_null(), "{created}");
    assert!(s.fake.payment_intents().is_empty(), "nothing was charged");
    assert_eq!(s.feature(user, "certificates").await["allowed"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_of_five_gives_exactly_five_of_twenty_concurrent_subscribes() {
    let s = Stack::start_with(crate::support::Options { pool_size: 24, ..Default::default() }).await;
    let terms = json!({"name": "Launch", "percent_off": "20", "duration": "forever", "max_redemptions": 5});
    let coupon = coupon_with_code(&s, terms, "LAUNCH").await;
    let users: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let calls = users
        .iter()
        .map(|u| s.post(*u, "/api/subscriptions", json!({"tier": "pro", "promotion_code": "LAUNCH"}), Some("k")));
    let answers = futures_util::future::join_all(calls).await;
    let mut ok = 0;
    for res in answers {
        match res.status().as_u16() {
            201 => ok += 1,
            409 => {
                let p: Value = res.json().await.unwrap();
                assert_eq!(p["code"], "redemption_limit_reached", "{p}");
            }
            other => panic!("unexpected {other}: {:?}", res.text().await),
        }
    }
    assert_eq!(ok, 5, "exactly the limit");
    let admin = testkit::internal_token("subscriptions", &Uuid::now_v7().to_string(), &[Role::Admin]);
    let list: Value = s
        .http
        .get(format!("{}/api/admin/coupons", s.svc.url()))
        .header("x-internal-token", admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = list["data"].as_array().unwrap().iter().find(|c| c["id"] == coupon.as_str()).unwrap().clone();
    assert_eq!(listed["redeemed"], 5);
    assert_eq!(listed["promotion_codes"][0]["redeemed"], 5);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemption_rules_refuse_without_taking_anything() {
    let s = Stack::start().await;
    // Admin only, and terms are checked.
    let res = s
        .post(
            Uuid::now_v7(),
            "/api/admin/coupons",
            json!({"name": "x", "percent_off": "10", "duration": "once"}),
            Some("a"),
        )
        .await;
    assert_eq!(res.status(), 403);
    for bad in [
        json!({"name": "zero", "percent_off": "0", "duration": "once"}),
        json!({"name": "both", "percent_off": "10", "amount_off": [{"amount": "1.00", "currency": "USD"}], "duration": "once"}),
        json!({"name": "months", "percent_off": "10", "duration": "repeating"}),
        json!({"name": "tier", "percent_off": "10", "duration": "once", "tiers": ["platinum"]}),
        json!({"name": "cents", "amount_off": [{"amount": "1.001", "currency": "USD"}], "duration": "once"}),
    ] {
        let res = admin_post(&s, "/api/admin/coupons", bad.clone()).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let id = coupon_with_code(
        &s,
        json!({"name": "Pro only", "percent_off": "10", "duration": "forever", "tiers": ["pro"]}),
        "PROONLY",
    )
    .await;
    let dup = admin_post(&s, &format!("/api/admin/coupons/{id}/promotion-codes"), json!({"code": "proonly"})).await;
    assert_eq!(dup.status(), 409, "codes are unique case-insensitively");
    coupon_with_code(
        &s,
        json!({"name": "New customers", "percent_off": "30", "duration": "once", "first_purchase_only": true}),
        "WELCOME",
    )
    .await;

    let user = Uuid::now_v7();
    let refused = |body: Value, key: &'static str| {
        let s = &s;
        async move {
            let res = s.post(user, "/api/subscriptions", body, Some(key)).await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, p) = refused(json!({"tier": "pro", "promotion_code": "NOPE"}), "r1").await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (422, Some("promotion_code")), "{p}");
    let (status, _) = refused(json!({"tier": "enterprise", "promotion_code": "PROONLY"}), "r2").await;
    assert_eq!(status, 422, "restricted to pro");
    assert!(s.me(user).await["subscription"].is_null(), "a refused code creates no subscription");

    // One redemption per user and code: after a canceled subscription, the code is spent.
    subscribe_with_code(&s, user, "pro", "PROONLY").await;
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 200);
    let (status, p) = refused(json!({"tier": "pro", "promotion_code": "proonly"}), "r3").await;
    assert_eq!((status, p["code"].as_str()), (409, Some("promotion_code_already_redeemed")), "{p}");
    // First purchase only: this user has paid before.
    let (status, p) = refused(json!({"tier": "pro", "promotion_code": "WELCOME"}), "r4").await;
    assert_eq!(status, 422, "{p}");

    // Deactivated: refused.
    let res = admin_post(&s, &format!("/api/admin/coupons/{id}/deactivate"), json!({})).await;
    assert_eq!(res.status(), 200);
    let other = Uuid::now_v7();
    let res =
        s.post(other, "/api/subscriptions", json!({"tier": "pro", "promotion_code": "PROONLY"}), Some("r5")).await;
    assert_eq!(res.status(), 422);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_applied_to_an_existing_subscription_discounts_the_next_renewal() {
    let mut s = Stack::start().await;
    coupon_with_code(&s, json!({"name": "Loyal", "percent_off": "20", "duration": "forever"}), "LOYAL").await;
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    let res = s.post(user, "/api/subscriptions/me/discount", json!({"promotion_code": "loyal"}), None).await;
    assert_eq!(res.status(), 400, "an Idempotency-Key is required");
    let res = s.post(user, "/api/subscriptions/me/discount", json!({"promotion_code": "loyal"}), Some("d1")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["discount"]["code"], "LOYAL");
    let again = s.post(user, "/api/subscriptions/me/discount", json!({"promotion_code": "loyal"}), Some("d2")).await;
    assert_eq!(again.status(), 409);
    s.events.expect("subscriptions.coupon.redeemed.v1", StdDuration::from_secs(10)).await;
    // 9.99 * 20 % = 1.998 -> 2.00 off: 7.99.
    s.clock.set(period_end(&me) + Duration::seconds(1));
    let renewed = s.events.expect("subscriptions.subscription.renewed.v1", StdDuration::from_secs(20)).await;
    assert_eq!(renewed.data["amount"]["amount"], "7.99");
    assert_eq!(succeeded_amounts(&s), vec![799, 999]);
    // MRR is what the customer pays: the list price for the period paid in full, then net.
    assert_eq!(s.mrr_of(user).await, Decimal::from_str("7.99").unwrap());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mrr_counts_what_a_discounted_subscriber_pays_and_a_once_discount_is_not_recurring() {
    let s = Stack::start().await;
    coupon_with_code(&s, json!({"name": "Half forever", "percent_off": "50", "duration": "forever"}), "HALFLIFE").await;
    coupon_with_code(&s, json!({"name": "Half once", "percent_off": "50", "duration": "once"}), "HALFONCE").await;
    let (forever, once) = (Uuid::now_v7(), Uuid::now_v7());
    subscribe_with_code(&s, forever, "pro", "HALFLIFE").await;
    subscribe_with_code(&s, once, "pro", "HALFONCE").await;
    assert_eq!(succeeded_amounts(&s), vec![499, 499]);
    // Both paid 4.99 now; only the forever discount is recurring revenue (Stripe's MRR is net of
    // discounts; a once discount is one charge's, like a proration).
    assert_eq!(s.mrr_of(forever).await, Decimal::from_str("4.99").unwrap());
    assert_eq!(s.mrr_of(once).await, Decimal::from_str("9.99").unwrap());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_in_a_period_the_coupon_covers_is_prorated_net_of_it() {
    let mut s = Stack::start().await;
    // Whole seconds: the period start comes back from the database in microseconds.
    s.clock.set(DateTime::from_timestamp(s.clock.now().timestamp(), 0).unwrap());
    coupon_with_code(&s, json!({"name": "Half forever", "percent_off": "50", "duration": "forever"}), "HALFUP").await;
    let user = Uuid::now_v7();
    subscribe_with_code(&s, user, "pro", "HALFUP").await;
    // At the period's first second: list proration 99 - 9.99 = 89.01; the customer pays half of
    // each plan (4.99 and 49.50), so the difference is 44.51.
    let res = s.post(user, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), Some("up-half")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let changed = s.events.expect("subscriptions.subscription.changed.v1", StdDuration::from_secs(10)).await;
    assert_eq!(changed.data["prorated_charge"]["amount"], "44.51");
    assert_eq!(succeeded_amounts(&s), vec![499, 4451]);
    assert_eq!(s.mrr_of(user).await, Decimal::from_str("49.50").unwrap());
    // The invoice shows the credit and the cost at list prices, then the discount.
    let invoices = s.invoices(user, 2).await;
    let upgrade = invoices.iter().find(|i| i["total"]["amount"] == "44.51").expect("the upgrade's invoice");
    let lines: Vec<(String, String)> = upgrade["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap().to_string(), l["amount"]["amount"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("proration_credit".to_string(), "-9.99".to_string()),
            ("proration_charge".to_string(), "99.00".to_string()),
            ("discount".to_string(), "-44.50".to_string())
        ]
    );
    s.stop().await;
}
