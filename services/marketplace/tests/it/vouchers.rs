//! Vouchers at checkout, marketplace's side, with the real rewards (which owns vouchers) and
//! billing: a refused voucher leaves nothing behind, one voucher serves one of two racing
//! purchases, and an expired purchase gives its voucher back.

use crate::purchase::purchase_status;
use crate::support::Market;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

const RELEASED: &str = "marketplace.voucher.released.v2";

/// Tokens for `buyer` (an admin award at rewards), redeemed for a 5.00 USD course voucher.
async fn voucher(m: &Market, buyer: Uuid) -> String {
    let rewards = m.rewards.as_ref().expect("rewards running").url();
    let admin = testkit::internal_token("rewards", &Uuid::now_v7().to_string(), &[Role::Admin]);
    let res = m
        .http
        .post(format!("{rewards}/api/tokens/award"))
        .header("x-internal-token", admin)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"user_id": buyer, "amount": 300, "reason": "voucher test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let learner = testkit::internal_token("rewards", &buyer.to_string(), &[Role::Learner]);
    let res = m
        .http
        .post(format!("{rewards}/api/tokens/redeem"))
        .header("x-internal-token", learner)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"item": "course_voucher"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["voucher"]["code"].as_str().unwrap().to_string()
}

async fn buy_with(m: &Market, buyer: Uuid, course_id: &str, code: &str) -> (u16, Value) {
    let res = m
        .send(
            reqwest::Method::POST,
            buyer,
            &[Role::Learner],
            "/api/courses/purchase",
            json!({"course_id": course_id, "voucher_code": code}),
            Some(&Uuid::new_v4().to_string()),
        )
        .await;
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn purchases_of(m: &Market, buyer: Uuid) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use marketplace::store::schema::purchases;
    let mut conn = m.svc.pool.get().await.unwrap();
    purchases::table.filter(purchases::buyer_id.eq(buyer)).count().get_result(&mut conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_voucher_changes_nothing_and_two_racing_purchases_share_none() {
    let m = Market::with_rewards().await;
    let instructor = Uuid::now_v7();
    let a = m
        .course(instructor, json!({"title": "Vouchers A", "price": {"amount": "19.99", "currency": "USD"}}), true)
        .await;
    let b = m
        .course(instructor, json!({"title": "Vouchers B", "price": {"amount": "12.00", "currency": "USD"}}), true)
        .await;
    let eur = m
        .course(instructor, json!({"title": "Vouchers EUR", "price": {"amount": "12.00", "currency": "EUR"}}), true)
        .await;
    let (a, b, eur) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap(), eur["id"].as_str().unwrap());
    let buyer = Uuid::now_v7();
    let code = voucher(&m, buyer).await;

    let blank = buy_with(&m, buyer, a, " ").await;
    assert_eq!((blank.0, blank.1["errors"][0]["field"].as_str()), (422, Some("voucher_code")), "{}", blank.1);
    let unknown = buy_with(&m, buyer, a, "RW-NOPE").await;
    assert_eq!((unknown.0, unknown.1["code"].as_str()), (422, Some("voucher_not_found")), "{}", unknown.1);
    let other = buy_with(&m, Uuid::now_v7(), a, &code).await;
    assert_eq!(other.1["code"], "voucher_not_found", "another user's voucher reads as unknown");
    let mismatch = buy_with(&m, buyer, eur, &code).await;
    assert_eq!(mismatch.1["code"], "voucher_currency_mismatch", "{}", mismatch.1);
    assert_eq!(mismatch.1["errors"][0]["field"], "voucher_code");
    assert_eq!(purchases_of(&m, buyer).await, 0, "refused vouchers leave no purchase behind");

    // Two purchases of different courses with the one voucher, at once: exactly one gets it.
    let (first, second) = tokio::join!(buy_with(&m, buyer, a, &code), buy_with(&m, buyer, b, &code));
    let (won, lost) = if first.0 == 201 { (first, second) } else { (second, first) };
    assert_eq!(won.0, 201, "{}", won.1);
    assert_eq!(won.1["discount"]["amount"], "5.00");
    assert_eq!((lost.0, lost.1["code"].as_str()), (422, Some("voucher_used")), "{}", lost.1);
    assert_eq!(purchases_of(&m, buyer).await, 1);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_voucher_purchase_releases_the_voucher_for_another_course() {
    let m = Market::with_rewards().await;
    let mut events = Capture::bind(&m.env, &[RELEASED]).await;
    let instructor = Uuid::now_v7();
    let a =
        m.course(instructor, json!({"title": "Expiring", "price": {"amount": "19.99", "currency": "USD"}}), true).await;
    let b = m.course(instructor, json!({"title": "Next", "price": {"amount": "3.00", "currency": "USD"}}), true).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let buyer = Uuid::now_v7();
    let code = voucher(&m, buyer).await;
    let (status, abandoned) = buy_with(&m, buyer, a, &code).await;
    assert_eq!(status, 201, "{abandoned}");
    assert_eq!(
        (abandoned["status"].as_str(), abandoned["amount_paid"]["amount"].as_str()),
        (Some("pending"), Some("14.99"))
    );
    assert_eq!(buy_with(&m, buyer, b, &code).await.1["code"], "voucher_used");

    // Never paid: a day later it expires and gives the voucher back.
    m.clock.advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    let released = events.expect(RELEASED, Duration::from_secs(20)).await;
    assert_eq!(released.data["purchase_id"], abandoned["id"]);
    assert_eq!(released.data["reason"], "purchase_expired");
    // The code is a secret kept only by rewards, as a hash: the event names its prefix.
    assert_eq!(released.data["voucher_code_prefix"], &code[..7]);
    assert!(released.data.get("voucher_code").is_none(), "{}", released.data);
    assert_eq!(purchase_status(&m, abandoned["id"].as_str().unwrap()).await, "failed");

    // Usable again: it covers the 3.00 course, which completes at once without a payment.
    let covered = testkit::eventually("the voucher back at rewards", Duration::from_secs(20), || async {
        let (status, body) = buy_with(&m, buyer, b, &code).await;
        (status == 201).then_some(body)
    })
    .await;
    assert_eq!(covered["status"], "completed", "{covered}");
    assert_eq!(covered["amount_paid"]["amount"], "0.00");
    assert!(covered["payment_id"].is_null());
    assert_eq!(m.owned(buyer).await, vec![b.to_string()]);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewards_unreachable_answers_502_rewards_unavailable() {
    let m = Market::with_billing().await;
    let course = m.course(Uuid::now_v7(), json!({}), true).await;
    let buyer = Uuid::now_v7();
    let res = buy_with(&m, buyer, course["id"].as_str().unwrap(), "RW-0000-0000-0000-0000").await;
    assert_eq!((res.0, res.1["code"].as_str()), (502, Some("rewards_unavailable")), "{}", res.1);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_keeps_only_the_vouchers_prefix_and_resumes_with_the_same_code_only() {
    // Rewards unreachable: the purchase stays pending with its voucher still to reserve.
    let m = Market::with_billing().await;
    let course = m.course(Uuid::now_v7(), json!({}), true).await;
    let course = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    let code = "RW-7K2M-Q9XD-4HNB-T3VC";
    let buy = |key: &'static str, body: Value| {
        m.send(reqwest::Method::POST, buyer, &[Role::Learner], "/api/courses/purchase", body, Some(key))
    };
    let first = buy("resume-1", json!({"course_id": course, "voucher_code": code})).await;
    assert_eq!(first.status(), 502);
    let hits = testkit::erasure::leftovers(&m.env.schema("marketplace"), &[code, &code[8..]]).await;
    assert!(hits.is_empty(), "the voucher code is stored in clear: {hits:?}");
    let prefix: Option<String> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use marketplace::store::schema::purchases;
        let mut conn = m.svc.pool.get().await.unwrap();
        purchases::table
            .filter(purchases::buyer_id.eq(buyer))
            .select(purchases::voucher_code_prefix)
            .first(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(prefix.as_deref(), Some("RW-7K2M"));

    // Another attempt at the same pending purchase must name the same voucher: the purchase
    // cannot, since it does not keep the code.
    let without = buy("resume-2", json!({"course_id": course})).await;
    assert_eq!(without.status(), 409);
    assert_eq!(without.json::<Value>().await.unwrap()["code"], "voucher_code_required");
    let other = buy("resume-3", json!({"course_id": course, "voucher_code": "RW-ZZZZ-Q9XD-4HNB-T3VC"})).await;
    assert_eq!(other.status(), 409);
    // With it, the attempt goes on to rewards (still unreachable here).
    let again = buy("resume-4", json!({"course_id": course, "voucher_code": code.to_lowercase()})).await;
    assert_eq!(
        (again.status().as_u16(), again.json::<Value>().await.unwrap()["code"].clone()),
        (502, json!("rewards_unavailable"))
    );
    assert_eq!(purchases_of(&m, buyer).await, 1);
    m.stop().await;
}
