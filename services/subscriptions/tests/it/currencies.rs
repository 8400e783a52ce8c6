//! Tiers priced per currency; a subscription billed in one currency for its life (issue 20, point 7).

use crate::support::Stack;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

/// Subscribe to `tier` in `currency` and pay the first month with a card that pays off-session too.
async fn subscribe_in(s: &Stack, user: Uuid, tier: &str, currency: &str) -> Value {
    let body = json!({"tier": tier, "currency": currency});
    let res = s.post(user, "/api/subscriptions", body, Some(&Uuid::new_v4().to_string())).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["subscription"]["currency"], currency);
    let pi = created["client_secret"].as_str().unwrap().split("_secret_").next().unwrap().to_string();
    s.fake.confirm_payment_intent(&pi, "pm_card_visa").unwrap();
    s.wait_status(user, "active").await
}

/// Stripe's PaymentIntents in `currency` (lower case there), as (amount in minor units, status).
fn intents_in(s: &Stack, currency: &str) -> Vec<(i64, String)> {
    s.fake
        .payment_intents()
        .iter()
        .filter(|pi| pi["currency"] == currency)
        .map(|pi| (pi["amount"].as_i64().unwrap(), pi["status"].as_str().unwrap().to_string()))
        .collect()
}

async fn sql(s: &Stack, statement: &str) {
    s.sql(statement).await;
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_billed_in_its_currency_for_life_and_mrr_is_reported_per_currency() {
    let mut s = Stack::start().await;
    s.clock.set(Utc.with_ymd_and_hms(2031, 3, 3, 12, 0, 0).single().unwrap());
    // The tier list shows every price.
    let tiers: Value = s.get(Uuid::now_v7(), "/api/subscriptions/tiers").await.json().await.unwrap();
    let pro = tiers["data"].as_array().unwrap().iter().find(|t| t["code"] == "pro").unwrap().clone();
    assert_eq!(pro["price"], json!({"amount": "9.99", "currency": "USD"}));
    let prices: Vec<(String, String)> = pro["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["currency"].as_str().unwrap().into(), m["amount"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        prices,
        [("BRL", "49.90"), ("EUR", "9.49"), ("GBP", "7.99"), ("USD", "9.99")].map(|(c, a)| (c.into(), a.into()))
    );

    // Unsupported or unknown currencies are refused with the field named, and nothing is created.
    let user = Uuid::now_v7();
    for currency in ["JPY", "XYZ", "eur"] {
        let res =
            s.post(user, "/api/subscriptions", json!({"tier": "pro", "currency": currency}), Some(currency)).await;
        assert_eq!(res.status(), 422, "{currency}");
        assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "currency");
    }
    assert!(s.me(user).await["subscription"].is_null());

    // In EUR: the first month, the upgrade's proration and the renewal are all charged in EUR.
    let me = subscribe_in(&s, user, "pro", "EUR").await;
    assert_eq!(intents_in(&s, "eur"), [(949, "succeeded".to_string())]);
    s.clock.advance(Duration::days(10));
    let preview: Value =
        s.get(user, "/api/subscriptions/me/change/preview?tier=enterprise").await.json().await.unwrap();
    assert_eq!(preview["amount"]["currency"], "EUR");
    let res = s.post(user, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), Some("up")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let changed = s.events.expect("subscriptions.subscription.changed.v1", StdDuration::from_secs(10)).await;
    assert_eq!(changed.data["prorated_charge"], preview["amount"]);
    assert_eq!(intents_in(&s, "eur").len(), 2);
    assert!(intents_in(&s, "usd").is_empty(), "nothing was ever charged in USD");
    s.clock.set(at(&me["subscription"]["current_period_end"]) + Duration::seconds(1));
    let renewed = s.events.expect("subscriptions.subscription.renewed.v1", StdDuration::from_secs(20)).await;
    assert_eq!(renewed.data["amount"], json!({"amount": "94.00", "currency": "EUR"}));

    // A tier not sold in the subscription's currency cannot be subscribed to or changed to.
    sql(&s, "INSERT INTO {schema}.tiers VALUES ('team', 'Team', 199, 'USD', 3)").await;
    sql(&s, "INSERT INTO {schema}.tier_prices VALUES ('team', 'USD', 199)").await;
    let res = s.post(user, "/api/subscriptions/me/change", json!({"tier": "team"}), Some("to-team")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "tier");
    let other = Uuid::now_v7();
    let res = s.post(other, "/api/subscriptions", json!({"tier": "team", "currency": "GBP"}), Some("team-gbp")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "currency");

    // A USD subscriber beside it: the report keeps one row per currency, never a sum of both.
    subscribe_in(&s, other, "pro", "USD").await;
    let today = platform::clock::Clock::now(&s.clock).date_naive();
    let query = format!("from={}&to={}&interval=day", today, today + Duration::days(1));
    let report: Value = s.report(&query, None).await.json().await.unwrap();
    let mrr = |currency: &str| -> Vec<Decimal> {
        let rows = report["data"].as_array().unwrap().iter().filter(|r| r["currency"] == currency);
        rows.map(|r| r["mrr"].as_str().unwrap().parse().unwrap()).collect()
    };
    assert_eq!(mrr("EUR").last(), Some(&"94".parse().unwrap()), "{report}");
    assert_eq!(mrr("USD").last(), Some(&"9.99".parse().unwrap()), "{report}");
    assert!(report["data"].as_array().unwrap().iter().all(|r| r["currency"] == "EUR" || r["currency"] == "USD"));
    s.stop().await;
}
