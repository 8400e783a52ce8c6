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

/// The migration that folded the older `award_audit` table into the audit log: an award only the
/// old table knew becomes a `tokens.award` entry chained like any other (verify holds); one
/// already in the log is not appended twice; the old table is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_award_table_folds_into_the_hash_chained_log() {
    use diesel_async::SimpleAsyncConnection;
    const OLD_TABLE: &str = "CREATE TABLE award_audit (
        id UUID PRIMARY KEY, admin_id TEXT NOT NULL, user_id UUID NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0), reason TEXT NOT NULL,
        transaction_id UUID NOT NULL UNIQUE REFERENCES token_transactions (id),
        idempotency_key TEXT NOT NULL, request_id TEXT, created_at TIMESTAMPTZ NOT NULL)";
    const FOLD: &str = include_str!("../../migrations/2026-12-10-800001_fold_award_audit/up.sql");
    let s = Rewards::start().await;
    let (admin, old_admin, user) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // An award made since the audit log exists: in the log (and, then, in the old table too).
    let recent: Value = s.award_with_key(admin, user, 40, "fold-1").await.json().await.unwrap();
    let mut conn = s.conn().await;
    // An award from before: a ledger entry and an old-table row, nothing in the log.
    let old_tx = rewards::ledger::award(
        &mut conn,
        chrono::Utc::now() - chrono::Duration::days(30),
        &rewards::ledger::Credit {
            user,
            amount: 15,
            reason: "Spoke at the \"meetup\"\ttwice",
            reference: None,
            source: rewards::ledger::SOURCE_ADMIN,
            idempotency_ref: "fold-old",
        },
    )
    .await
    .unwrap()
    .unwrap();
    conn.batch_execute(OLD_TABLE).await.unwrap();
    let legacy_id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO award_audit VALUES ($1, $2, $3, 15, $4, $5, 'k-old', NULL, now() - interval '30 days'), \
         ($6, $7, $3, 40, 'recent', $8, 'fold-1', 'req-1', now())",
    )
    .bind::<diesel::sql_types::Uuid, _>(legacy_id)
    .bind::<diesel::sql_types::Text, _>(old_admin.to_string())
    .bind::<diesel::sql_types::Uuid, _>(user)
    .bind::<diesel::sql_types::Text, _>(old_tx.reason.clone())
    .bind::<diesel::sql_types::Uuid, _>(old_tx.id)
    .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<diesel::sql_types::Text, _>(admin.to_string())
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(recent["transaction_id"].as_str().unwrap()).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();

    conn.batch_execute(FOLD).await.unwrap();

    let report = platform::audit::verify(&mut conn).await.unwrap();
    assert_eq!((report.checked, report.broken), (2, None), "one entry appended, chained");
    let gone = conn.batch_execute("SELECT 1 FROM award_audit").await;
    assert!(gone.is_err(), "the old table is dropped");
    drop(conn);
    let page = audit(&s, &format!("?target=user:{user}&action=tokens.award")).await;
    let entries = page["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{page}");
    // Newest first: the recent award, then the folded one at its original time.
    assert_eq!(entries[0]["actor_sub"], admin.to_string());
    let folded = &entries[1];
    assert_eq!(folded["id"], legacy_id.to_string());
    assert_eq!(folded["actor_sub"], old_admin.to_string());
    assert_eq!(folded["actor_roles"], json!(["admin"]));
    assert_eq!(folded["changes"]["migrated_from"], "award_audit");
    assert_eq!(folded["changes"]["amount"], 15);
    assert_eq!(folded["changes"]["reason"], old_tx.reason.as_str());
    assert_eq!(folded["changes"]["transaction_id"], old_tx.id.to_string());
    assert_eq!(folded["changes"]["balance_after"], old_tx.balance_after);
    s.stop().await;
}
