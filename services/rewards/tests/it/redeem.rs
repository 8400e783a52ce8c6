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

/// The one-statement redemption keeps platform::idempotency's semantics: concurrent requests with one
/// key spend once (the others are told it is in progress, or replay the answer), a retry replays it,
/// the key with another body is refused, and what the statement fills in after the debit (the
/// answer's and the event's `balance_after`) is the debited balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_is_one_redemption_whatever_the_retries() {
    let s = Rewards::start().await;
    let mut events = Capture::bind(&s.env, &["rewards.tokens.redeemed.v1"]).await;
    let user = Uuid::now_v7();
    s.award(user, 1000).await;
    let attempts = (0..20).map(|_| s.redeem(user, "course_voucher", "same-key"));
    let mut first = None;
    let mut replayed = Vec::new();
    for res in futures_util::future::join_all(attempts).await {
        let status = res.status().as_u16();
        let again = res.headers().get("idempotent-replayed").is_some();
        let body: Value = res.json().await.unwrap();
        match (status, again) {
            (201, false) => assert!(first.replace(body).is_none(), "spent twice"),
            (201, true) => replayed.push(body),
            (409, _) => assert_eq!(body["code"], "idempotency_in_progress"),
            other => panic!("unexpected {other:?}: {body}"),
        }
    }
    let first = first.expect("one redemption");
    assert_eq!(first["balance_after"], 700);
    assert_eq!(first["cost"], 300);
    // The code is shown once, in the fresh answer; a replay is that answer without it (the stored
    // answer never held it: vouchers::the_code_is_shown_once_...).
    let code = first["voucher"]["code"].as_str().expect("the fresh answer shows the code").to_string();
    assert_eq!(first["voucher"]["code_prefix"], code[..7]);
    let mut concealed = first.clone();
    concealed["voucher"].as_object_mut().unwrap().remove("code");
    assert!(replayed.iter().all(|r| *r == concealed), "{replayed:?}");
    let retry = s.redeem(user, "course_voucher", "same-key").await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), concealed);
    let other_body = s.redeem(user, "pro_month", "same-key").await;
    assert_eq!(other_body.status(), 422);
    assert_eq!(other_body.json::<Value>().await.unwrap()["code"], "idempotency_key_reused");
    let unknown = s.redeem(user, "a_yacht", "new-key").await;
    assert_eq!(unknown.status(), 422);
    assert_eq!(s.balance_of(user).await, 700);
    let e = events.expect("rewards.tokens.redeemed.v1", Duration::from_secs(10)).await;
    assert_eq!(e.data["balance_after"], 700);
    assert_eq!(e.data["transaction_id"], first["transaction_id"]);
    assert!(events.next(Duration::from_millis(500)).await.is_none(), "one event per redemption");
    s.assert_books_balance().await;
    s.stop().await;
}

/// A redemption's statement, and the voucher's foreign-key check it fires, use indexes in every
/// session, even one that began on empty tables: PostgreSQL caches both plans per session, and
/// one made from an empty table is a Seq Scan it keeps (docs/performance.md, round 13).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redemption_never_plans_a_sequential_scan() {
    use diesel_async::RunQueryDsl;
    let s = Rewards::start().await;
    let mut conn = s.conn().await;
    let guarded: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace \
          AND proname IN ('redeem_once', 'idempotency_claim') AND 'enable_seqscan=off' = ANY (proconfig))",
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(guarded, 2, "redeem_once or the claim may plan a Seq Scan");
    drop(conn);
    // And a redemption still works with the setting.
    let user = Uuid::now_v7();
    s.award(user, 300).await;
    assert_eq!(s.redeem(user, "course_voucher", "guarded").await.status(), 201);
    s.stop().await;
}
