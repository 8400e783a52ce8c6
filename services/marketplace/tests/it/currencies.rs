//! Issue 20, point 7: a course priced in several currencies is bought in the one the buyer names;
//! billing charges in it, and earnings and reports keep every currency apart, never adding them.

use crate::support::Market;
use platform::auth::Role;
use platform::clock::Clock;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

async fn buy_in(m: &Market, buyer: Uuid, course: &str, currency: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "course_id": course });
    if let Some(c) = currency {
        body["currency"] = json!(c);
    }
    let key = Uuid::new_v4().to_string();
    m.send(reqwest::Method::POST, buyer, &[Role::Learner], "/api/courses/purchase", body, Some(&key)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_in_two_currencies_are_two_rows_never_one_sum() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.course.purchased.v1", "billing.payment.succeeded.v1"]).await;
    let instructor = Uuid::now_v7();
    let prices =
        json!({"price": {"amount": "20.00", "currency": "USD"}, "prices": [{"amount": "18.50", "currency": "EUR"}]});
    let course = m.course(instructor, prices, true).await;
    assert_eq!(
        course["prices"],
        json!([{"amount": "20.00", "currency": "USD"}, {"amount": "18.50", "currency": "EUR"}])
    );
    let course_id = course["id"].as_str().unwrap();

    // A currency the course is not sold in is refused, naming the field, and records nothing.
    let gbp = buy_in(&m, Uuid::now_v7(), course_id, Some("GBP")).await;
    assert_eq!(gbp.status(), 422);
    let problem: Value = gbp.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "currency", "{problem}");

    let (usd_buyer, eur_buyer) = (Uuid::now_v7(), Uuid::now_v7());
    for (buyer, currency, price) in [(usd_buyer, None, "20.00"), (eur_buyer, Some("EUR"), "18.50")] {
        let res = buy_in(&m, buyer, course_id, currency).await;
        assert_eq!(res.status(), 201);
        let purchase: Value = res.json().await.unwrap();
        assert_eq!(purchase["price"]["amount"], price, "{purchase}");
        m.confirm(&purchase, "pm_card_visa");
        m.wait_owned(buyer, course_id).await;
        let paid = events.expect("billing.payment.succeeded.v1", Duration::from_secs(20)).await;
        assert_eq!(paid.data["amount"], json!({"amount": price, "currency": currency.unwrap_or("USD")}));
        let sale = events.expect("marketplace.course.purchased.v1", Duration::from_secs(20)).await;
        assert_eq!(sale.data["gross"]["currency"], currency.unwrap_or("USD"));
    }

    // Earnings: one total per currency, 70 % of each price in it.
    let earned = m.earnings(instructor).await;
    let mut totals: Vec<(String, String)> = earned["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["currency"].as_str().unwrap().to_string(), t["by_status"]["pending"]["amount"].to_string()))
        .collect();
    totals.sort();
    assert_eq!(totals, vec![("EUR".into(), "\"12.95\"".into()), ("USD".into(), "\"14.00\"".into())], "{earned}");

    // The admin report: one row per currency for the same day.
    let day = m.clock.now().date_naive();
    let path =
        format!("/api/admin/reports/marketplace?from={day}&to={}&interval=day", day.succ_opt().expect("next day"));
    let report = m.get_json(Some((Uuid::now_v7(), &[Role::Admin])), &path).await;
    let rows: Vec<(&str, &str, i64)> = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["currency"].as_str().unwrap(), r["gross_sales"].as_str().unwrap(), r["sales"].as_i64().unwrap()))
        .collect();
    assert_eq!(rows, vec![("EUR", "18.50", 1), ("USD", "20.00", 1)], "{report}");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_prices_are_edited_checked_and_follow_the_primary_price() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "10.00", "currency": "USD"}}), false).await;
    let id = course["id"].as_str().unwrap();
    let patch = |body: Value| {
        let m = &m;
        async move {
            m.send(reqwest::Method::PATCH, instructor, &[Role::Instructor], &format!("/api/courses/{id}"), body, None)
                .await
        }
    };
    let res =
        patch(json!({"prices": [{"amount": "9.00", "currency": "EUR"}, {"amount": "45.00", "currency": "BRL"}]})).await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["prices"].as_array().unwrap().len(), 3, "{view}");
    // The primary's own currency again, an unsupported one, or a second EUR: 422, nothing changed.
    for bad in [
        json!({"prices": [{"amount": "11.00", "currency": "USD"}]}),
        json!({"prices": [{"amount": "1000", "currency": "JPY"}]}),
        json!({"prices": [{"amount": "9.00", "currency": "EUR"}, {"amount": "9.50", "currency": "EUR"}]}),
    ] {
        let res = patch(bad.clone()).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let unchanged = m.get_json(Some((instructor, &[Role::Instructor])), &format!("/api/courses/{id}")).await;
    assert_eq!(unchanged["prices"], view["prices"]);
    // The primary moves to EUR: the EUR row goes (the primary rules); made free: none is left.
    let res = patch(json!({"price": {"amount": "9.50", "currency": "EUR"}})).await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(
        view["prices"],
        json!([{"amount": "9.50", "currency": "EUR"}, {"amount": "45.00", "currency": "BRL"}]),
        "{view}"
    );
    let res = patch(json!({"price": {"amount": "0", "currency": "EUR"}})).await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["prices"].as_array().unwrap().len(), 1, "{view}");
    m.stop().await;
}
