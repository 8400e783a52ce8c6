//! Balances, history, admin awards and who may see what.

use crate::support::Rewards;
use platform::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_award_replayed_with_one_key_posts_one_transaction() {
    let s = Rewards::start().await;
    let (admin, user) = (Uuid::now_v7(), Uuid::now_v7());
    let first = s.award_with_key(admin, user, 40, "award-1").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = s.award_with_key(admin, user, 40, "award-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["transaction_id"], again["transaction_id"]);
    let other_body = s.award_with_key(admin, user, 41, "award-1").await;
    assert_eq!(other_body.status(), 422, "same key, different body");

    let list = s.json(user, "/api/tokens/transactions").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["kind"], "award");
    assert_eq!(list["data"][0]["amount"], 40);
    assert_eq!(s.balance_of(user).await, 40);
    let mut conn = s.conn().await;
    let audited = platform::audit::list(
        &mut conn,
        &platform::audit::AuditFilter {
            actor: Some(admin.to_string()),
            action: Some("tokens.award".into()),
            ..Default::default()
        },
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(audited.len(), 1, "the audit log names the admin once");
    drop(conn);
    s.assert_books_balance().await;
    s.stop().await;
}

/// The one-call credit (`credit_tokens`) creates a learner's account on the first credit: many
/// first credits racing for one new account all land, each on the balance the one before left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_credits_to_a_new_account_all_land_in_order() {
    let s = Rewards::start().await;
    let (admin, user) = (Uuid::now_v7(), Uuid::now_v7());
    let stack = &s;
    let answers = futures_util::future::join_all(
        (1..=20).map(|i| async move { stack.award_with_key(admin, user, i, &format!("race-{i}")).await }),
    )
    .await;
    assert!(answers.iter().all(|a| a.status() == 201), "{:?}", answers.iter().map(|a| a.status()).collect::<Vec<_>>());
    let balance = s.balance(user).await;
    assert_eq!(balance["balance"], 210);
    assert_eq!(balance["lifetime_earned"], 210);
    // Whatever order they ran in, each event's balance is the running sum of the amounts.
    let events = s.awarded_events(user).await;
    assert_eq!(events.len(), 20);
    let mut running = 0;
    for (amount, after) in events {
        running += amount;
        assert_eq!(after, running, "an event's balance_after skipped a credit");
    }
    assert_eq!(s.json(user, "/api/leaderboard/weekly").await["me"]["score"], 210);
    s.assert_books_balance().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_award_and_users_read_only_their_own_tokens() {
    let s = Rewards::start().await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let body = json!({"user_id": b, "amount": 1000, "reason": "I deserve it"});
    let res = s.post(b, &[Role::Learner], "/api/tokens/award", Some("k"), body).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "forbidden");
    assert_eq!(s.balance_of(b).await, 0);

    s.award(a, 25).await;
    let res = s.get(b, &format!("/api/tokens/transactions?user_id={a}")).await;
    assert_eq!(res.status(), 403, "B cannot read A's ledger");
    let res = s.get(b, &format!("/api/tokens/balance?user_id={a}")).await;
    assert_eq!(res.status(), 403, "nor A's balance");
    assert!(s.json(b, "/api/tokens/transactions").await["data"].as_array().unwrap().is_empty());
    let admin_view: Value = s
        .get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/tokens/transactions?user_id={a}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin_view["data"].as_array().unwrap().len(), 1);
    let anonymous = s.http.get(s.url("/api/tokens/balance")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_422_with_field_errors_and_changes_nothing() {
    let s = Rewards::start().await;
    let (admin, user) = (Uuid::now_v7(), Uuid::now_v7());
    let cases = [
        (json!({"user_id": user, "amount": 0, "reason": " "}), vec!["amount", "reason"]),
        (json!({"user_id": user, "amount": 5}), vec!["reason"]),
        (json!({"user_id": user, "amount": 5, "reason": "ok", "balance": 1}), vec!["balance"]),
        (json!({"user_id": user, "amount": "5", "reason": "ok"}), vec!["body"]),
    ];
    for (i, (body, fields)) in cases.into_iter().enumerate() {
        let res = s.post(admin, &[Role::Admin], "/api/tokens/award", Some(&format!("bad-{i}")), body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["code"], "validation_failed");
        let got: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        if fields != vec!["body"] {
            assert_eq!(got, fields, "{body}");
        }
    }
    let res = s.redeem(user, "yacht", "r1").await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "item");
    let res =
        s.post(user, &[Role::Learner], "/api/tokens/redeem", Some("r2"), json!({"item": "pro_month", "cost": 1})).await;
    assert_eq!(res.status(), 422);
    let res = s.post(user, &[Role::Learner], "/api/tokens/redeem", None, json!({"item": "pro_month"})).await;
    assert_eq!(res.status(), 400, "the Idempotency-Key is required");
    let res = s.get(user, "/api/tokens/transactions?kind=gift").await;
    assert_eq!(res.status(), 422);
    assert_eq!(s.balance_of(user).await, 0);
    assert!(s.json(user, "/api/tokens/transactions").await["data"].as_array().unwrap().is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_newest_first_and_filters_by_kind_and_date() {
    let s = Rewards::start_at("2026-11-20T10:00:00Z").await;
    let user = Uuid::now_v7();
    for (i, amount) in [10, 20, 30, 40, 50].into_iter().enumerate() {
        s.set_time(&format!("2026-11-2{}T10:00:00Z", i));
        s.award(user, amount).await;
    }
    s.set_time("2026-11-25T10:00:00Z");
    s.award(user, 300).await;
    assert_eq!(s.redeem(user, "course_voucher", "v1").await.status(), 201);

    let first = s.json(user, "/api/tokens/transactions?limit=3").await;
    let amounts: Vec<i64> = first["data"].as_array().unwrap().iter().map(|t| t["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![-300, 300, 50]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = s.json(user, &format!("/api/tokens/transactions?limit=3&cursor={cursor}")).await;
    let amounts: Vec<i64> = second["data"].as_array().unwrap().iter().map(|t| t["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![40, 30, 20]);
    let redeemed = s.json(user, "/api/tokens/transactions?kind=redeem").await;
    assert_eq!(redeemed["data"].as_array().unwrap().len(), 1);
    let window = s.json(user, "/api/tokens/transactions?from=2026-11-21T00:00:00Z&to=2026-11-23T00:00:00Z").await;
    let amounts: Vec<i64> = window["data"].as_array().unwrap().iter().map(|t| t["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![30, 20]);
    let res = s.get(user, "/api/tokens/transactions?cursor=forged").await;
    assert_eq!(res.status(), 422);
    let catalog = s.json(user, "/api/tokens/catalog").await;
    let items: Vec<&str> = catalog["data"].as_array().unwrap().iter().map(|i| i["item"].as_str().unwrap()).collect();
    assert_eq!(items, vec!["course_voucher", "pro_month"]);
    assert_eq!(catalog["data"][0]["voucher_value"], json!({"amount": "5.00", "currency": "USD"}));
    s.assert_books_balance().await;
    s.stop().await;
}
