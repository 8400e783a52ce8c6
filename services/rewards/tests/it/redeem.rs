//! Redemptions: never more than the balance, whatever the concurrency.

use crate::support::Rewards;
use serde_json::Value;
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_redemptions_spend_exactly_the_balance() {
    let s = Rewards::start().await;
    let user = Uuid::now_v7();
    s.award(user, 10 * 300).await;
    let keys: Vec<String> = (0..200).map(|i| format!("redeem-{i}")).collect();
    let attempts = keys.iter().map(|k| s.redeem(user, "course_voucher", k));
    let responses = futures_util::future::join_all(attempts).await;
    let mut created = Vec::new();
    let mut refused = 0;
    for res in responses {
        match res.status().as_u16() {
            201 => created.push(res.json::<Value>().await.unwrap()),
            409 => {
                let p: Value = res.json().await.unwrap();
                assert_eq!(p["code"], "insufficient_tokens");
                refused += 1;
            }
            other => panic!("unexpected {other}: {:?}", res.text().await),
        }
    }
    assert_eq!(created.len(), 10);
    assert_eq!(refused, 190);
    let balance = s.balance(user).await;
    assert_eq!(balance["balance"], 0);
    assert_eq!(balance["lifetime_earned"], 3000, "spending does not lower the score");
    let mut codes: Vec<&str> = created.iter().map(|r| r["voucher"]["code"].as_str().unwrap()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 10, "ten distinct single-use vouchers");
    let redeemed = s.json(user, "/api/tokens/transactions?kind=redeem&limit=100").await;
    let spent: i64 = redeemed["data"].as_array().unwrap().iter().map(|t| t["amount"].as_i64().unwrap()).sum();
    assert_eq!(spent, -3000);
    s.assert_books_balance().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pro_month_is_announced_for_subscriptions_once_per_key() {
    let s = Rewards::start().await;
    let mut events = Capture::bind(&s.env, &["rewards.tokens.redeemed.v1"]).await;
    let user = Uuid::now_v7();
    s.award(user, 1500).await;
    let res = s.redeem(user, "pro_month", "pro-1").await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert!(first["voucher"].is_null());
    let replay = s.redeem(user, "pro_month", "pro-1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap()["redemption_id"], first["redemption_id"]);
    let e = events.expect("rewards.tokens.redeemed.v1", Duration::from_secs(10)).await;
    assert_eq!(e.data["user_id"], user.to_string());
    assert_eq!(e.data["item"], "pro_month");
    assert_eq!(e.data["cost"], 1000);
    assert_eq!(e.data["redemption_id"], first["redemption_id"]);
    assert!(events.next(Duration::from_millis(500)).await.is_none(), "one event per redemption");
    assert_eq!(s.balance_of(user).await, 500);
    let res = s.redeem(user, "pro_month", "pro-2").await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "insufficient_tokens");
    assert_eq!(s.balance_of(user).await, 500);
    s.stop().await;
}
