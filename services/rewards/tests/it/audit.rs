//! rewards' audited actions (admin awards, admins reading another user's tokens) and the
//! retention of the outbox and inbox it shares with every service.

use crate::support::Rewards;
use diesel_async::RunQueryDsl;
use platform::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

async fn audit(s: &Rewards, query: &str) -> Value {
    let res = s.get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/admin/audit/rewards{query}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_award_is_audited_and_a_refused_one_is_not() {
    let s = Rewards::start().await;
    let admin = Uuid::now_v7();
    let user = Uuid::now_v7();
    assert_eq!(s.award_with_key(admin, user, 40, "a-1").await.status(), 201);
    // The same admin's key replayed with another body: refused, nothing awarded, nothing logged.
    assert_eq!(s.award_with_key(admin, user, 41, "a-1").await.status(), 422);
    let page = audit(&s, &format!("?target=user:{user}&action=tokens.award")).await;
    let entries = page["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["actor_sub"], admin.to_string());
    assert_eq!(entries[0]["changes"]["amount"], 40);
    assert_eq!(entries[0]["changes"]["balance_after"], 40);
    let mut conn = s.svc.pool.get().await.unwrap();
    assert_eq!(platform::audit::verify(&mut conn).await.unwrap().broken, None);
    drop(conn);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_reading_another_users_tokens_are_audited_and_paginated() {
    let s = Rewards::start().await;
    let user = Uuid::now_v7();
    assert_eq!(s.json(user, "/api/tokens/balance").await["balance"], 0);
    for _ in 0..3 {
        let res = s.get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/tokens/balance?user_id={user}")).await;
        assert_eq!(res.status(), 200);
    }
    let first = audit(&s, "?action=admin.read&limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = audit(&s, &format!("?action=admin.read&limit=2&cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(second["data"][0]["changes"], json!({"resource": "token_balance"}));
    let res = s.get(user, "/api/admin/audit/rewards").await;
    assert_eq!(res.status(), 403, "learners do not read the audit log");
    s.stop().await;
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(s: &Rewards, sql: &str) -> i64 {
    let mut conn = s.svc.pool.get().await.unwrap();
    diesel::sql_query(sql).get_result::<N>(&mut conn).await.unwrap().n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_outbox_rows_and_old_inbox_rows_are_pruned_pending_ones_never() {
    let s = Rewards::start().await;
    {
        let mut conn = s.svc.pool.get().await.unwrap();
        for sql in [
            // Published 8 days ago (kept 7): pruned. Published 6 days ago: kept.
            "INSERT INTO outbox (event_id, event_type, envelope, created_at, published_at) \
             SELECT gen_random_uuid(), 'test.old.v1', '{}', now() - interval '9 days', now() - interval '8 days' FROM generate_series(1, 3)",
            "INSERT INTO outbox (event_id, event_type, envelope, created_at, published_at) \
             VALUES (gen_random_uuid(), 'test.recent.v1', '{}', now() - interval '6 days', now() - interval '6 days')",
            // Not published, however old: the relay's work, never pruned (should the relay send
            // it meanwhile, it is published now, which is kept too).
            "INSERT INTO outbox (event_id, event_type, envelope, created_at) \
             VALUES (gen_random_uuid(), 'test.pending.v1', '{}', now() - interval '90 days')",
            // Inbox: 31 days (kept 30): pruned; 29 days: kept.
            "INSERT INTO inbox (event_id, consumer, event_type, processed_at) \
             SELECT gen_random_uuid(), 'rewards', 'test.old.v1', now() - interval '31 days' FROM generate_series(1, 4)",
            "INSERT INTO inbox (event_id, consumer, event_type, processed_at) \
             VALUES (gen_random_uuid(), 'rewards', 'test.recent.v1', now() - interval '29 days')",
        ] {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
    }
    let report = s.svc.retention.run_once().await;
    assert!(report.contains(&("outbox", 3)) && report.contains(&("inbox", 4)), "{report:?}");
    assert_eq!(count(&s, "SELECT count(*) AS n FROM outbox WHERE event_type LIKE 'test.%'").await, 2);
    assert_eq!(count(&s, "SELECT count(*) AS n FROM outbox WHERE event_type = 'test.pending.v1'").await, 1);
    assert_eq!(count(&s, "SELECT count(*) AS n FROM inbox WHERE event_type LIKE 'test.%'").await, 1);
    let text = s.svc.metrics.render().await;
    for (table, n) in [("outbox", 3.0), ("inbox", 4.0)] {
        let got = platform::metrics::sample(&text, "monetization_retention_pruned_rows_total", &[("table", table)]);
        assert_eq!(got, Some(n), "{table}");
    }
    s.stop().await;
}
