//! Issue 20, point 6: billing adds an exclusive tax on top of a course's price, and the 70/30 split
//! never counts it: billing's events carry the net amount (the tax beside it), so the sale splits
//! the price and a partial refund reverses the net part of what went back, not the tax.

use crate::support::Market;
use platform::auth::Role;
use platform::clock::Clock;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

async fn billing_call(m: &Market, method: reqwest::Method, path: &str, caller: (Uuid, Role), body: Value) -> Value {
    let billing = m.billing.as_ref().expect("billing running");
    let res = m
        .http
        .request(method, format!("{}{path}", billing.svc.url()))
        .header("x-internal-token", testkit::internal_token("billing", &caller.0.to_string(), &[caller.1]))
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {:?}", res.text().await);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_is_of_the_net_price_when_billing_adds_an_exclusive_tax() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#", "billing.#"]).await;
    let admin = (Uuid::now_v7(), Role::Admin);
    let rate = json!({"country": "DE", "percentage": "19", "inclusive": false, "display_name": "VAT"});
    billing_call(&m, reqwest::Method::POST, "/api/admin/tax-rates", admin, rate).await;
    let buyer = Uuid::now_v7();
    let details = json!({"name": "Ada", "address": {"line1": "1 Engine Way", "city": "Berlin", "country": "DE"}});
    billing_call(&m, reqwest::Method::PUT, "/api/payments/billing-details", (buyer, Role::Learner), details).await;

    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let purchase: Value = m.buy(buyer, course_id, "tax-1").await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;

    let paid = events.expect("billing.payment.succeeded.v1", Duration::from_secs(20)).await;
    assert_eq!((&paid.data["amount"]["amount"], &paid.data["tax"]["amount"]), (&json!("20.00"), &json!("3.80")));
    let sale = events.expect("marketplace.course.purchased.v1", Duration::from_secs(20)).await;
    assert_eq!(sale.data["gross"]["amount"], "20.00", "tax is not revenue");
    assert_eq!(sale.data["instructor_share"]["amount"], "14.00");
    assert_eq!(sale.data["platform_share"]["amount"], "6.00");

    // Half of the 23.80 charged goes back as goodwill: 10.00 net (and 1.90 tax), so 7.00 of the
    // instructor's share is reversed, not 70 % of 11.90.
    let payment_id = purchase["payment_id"].as_str().unwrap();
    let refund = json!({"amount": "11.90", "reason": "goodwill"});
    billing_call(&m, reqwest::Method::POST, &format!("/api/payments/{payment_id}/refunds"), admin, refund).await;
    let reversed = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(reversed.data["refunded_amount"]["amount"], "10.00");
    assert_eq!(reversed.data["instructor_reversal"]["amount"], "7.00");
    assert_eq!(reversed.data["platform_reversal"]["amount"], "3.00");
    assert_eq!(reversed.data["access_ended"], false);
    m.stop().await;
}

/// The defect: with an INCLUSIVE rate the customer pays the course's price and the tax is inside
/// it. The split used to be of the price, so the tax counted as revenue and 70 % of it went to the
/// instructor. It is of billing's net now, the purchase and the report keep the tax apart, and a
/// full refund reverses exactly the booked net split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inclusive_tax_is_neither_instructor_nor_platform_revenue() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let admin = (Uuid::now_v7(), Role::Admin);
    let rate = json!({"country": "DE", "percentage": "19", "inclusive": true, "display_name": "MwSt."});
    billing_call(&m, reqwest::Method::POST, "/api/admin/tax-rates", admin, rate).await;
    let buyer = Uuid::now_v7();
    let details = json!({"name": "Ada", "address": {"line1": "1 Engine Way", "city": "Berlin", "country": "DE"}});
    billing_call(&m, reqwest::Method::PUT, "/api/payments/billing-details", (buyer, Role::Learner), details).await;

    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let purchase: Value = m.buy(buyer, course_id, "tax-incl").await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;

    // 20.00 with 19 % in it: 3.19 tax, 16.81 net; 70 % of 16.81 = 11.767 -> 11.77.
    let sale = events.expect("marketplace.course.purchased.v1", Duration::from_secs(20)).await;
    assert_eq!(sale.data["gross"]["amount"], "16.81", "{}", sale.data);
    assert_eq!(sale.data["tax"]["amount"], "3.19");
    assert_eq!(sale.data["instructor_share"]["amount"], "11.77");
    assert_eq!(sale.data["platform_share"]["amount"], "5.04");
    let mine = m.get_json(Some((buyer, &[Role::Learner])), "/api/courses/mine").await;
    let bought = &mine["data"][0]["purchase"];
    assert_eq!((&bought["amount_paid"]["amount"], &bought["tax"]["amount"]), (&json!("20.00"), &json!("3.19")));
    assert_eq!(bought["net_amount"]["amount"], "16.81");
    let earned = m.earnings(instructor).await;
    assert_eq!(earned["totals"][0]["by_status"]["pending"]["amount"], "11.77", "{earned}");

    let day = m.clock.now().date_naive();
    let report_path =
        format!("/api/admin/reports/marketplace?from={day}&to={}&interval=day", day.succ_opt().expect("a next day"));
    let report = m.get_json(Some((admin.0, &[Role::Admin])), &report_path).await;
    let row = &report["data"][0];
    assert_eq!(
        (&row["gross_sales"], &row["gmv"], &row["tax"]),
        (&json!("16.81"), &json!("16.81"), &json!("3.19")),
        "{report}"
    );
    assert_eq!((&row["instructor_revenue"], &row["platform_revenue"]), (&json!("11.77"), &json!("5.04")));

    // The whole 20.00 goes back: 16.81 of revenue and 3.19 of tax; exactly the booked shares reversed.
    let payment_id = bought["payment_id"].as_str().unwrap();
    let refund = json!({"amount": "20.00", "reason": "requested_by_customer"});
    billing_call(&m, reqwest::Method::POST, &format!("/api/payments/{payment_id}/refunds"), admin, refund).await;
    let reversed = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(reversed.data["refunded_amount"]["amount"], "16.81", "{}", reversed.data);
    assert_eq!(reversed.data["instructor_reversal"]["amount"], "11.77");
    assert_eq!(reversed.data["platform_reversal"]["amount"], "5.04");
    assert_eq!(reversed.data["fully_refunded"], true);
    let report = m.get_json(Some((admin.0, &[Role::Admin])), &report_path).await;
    let row = &report["data"][0];
    assert_eq!(
        (&row["refunded"], &row["gmv"], &row["tax"]),
        (&json!("16.81"), &json!("0.00"), &json!("0.00")),
        "{report}"
    );
    assert_eq!((&row["instructor_revenue"], &row["platform_revenue"]), (&json!("0.00"), &json!("0.00")));
    m.stop().await;
}
