//! The audit log against the real PostgreSQL: same-transaction writes, a chain that holds under
//! concurrent writers, a database that refuses UPDATE/DELETE, and tampering found by `verify`.

use chrono::{Duration, TimeZone, Utc};
use diesel_async::{AsyncConnection, RunQueryDsl};
use platform::audit::{self, Action, AuditContext, AuditFilter};
use platform::db::Pool;
use platform::Problem;
use serde_json::json;

async fn setup() -> (testkit::TestEnv, Pool) {
    crate::support::migrated("audit", 12, &[]).await
}

fn admin() -> AuditContext {
    AuditContext {
        actor_sub: "0192f0c4-0000-7000-8000-0000000000aa".into(),
        actor_roles: vec!["admin".into()],
        actor_org: None,
        request_id: Some("req-1".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        client_addr: Some("203.0.113.7".into()),
    }
}

async fn write(pool: &Pool, ctx: &AuditContext, action: &'static str, target: String, n: i64) {
    let ctx = ctx.clone();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap() + Duration::seconds(n);
    platform::db::transaction::<_, Problem, _>(pool, move |conn| {
        Box::pin(async move {
            Ok(audit::record(conn, &ctx, at, Action::new(action, target, json!({"amount": "9.99", "n": n}))).await?)
        })
    })
    .await
    .unwrap();
}

async fn verify(pool: &Pool) -> audit::Verification {
    let mut conn = pool.get().await.unwrap();
    audit::verify(&mut conn).await.unwrap()
}

async fn exec(pool: &Pool, sql: &str) -> Result<usize, diesel::result::Error> {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await
}

#[tokio::test]
async fn concurrent_writers_build_one_unbroken_chain() {
    let (env, pool) = setup().await;
    let writers = (0..24).map(|n| {
        let pool = pool.clone();
        tokio::spawn(async move { write(&pool, &admin(), "payment.refund", format!("payment:{n}"), n).await })
    });
    for w in writers {
        w.await.unwrap();
    }
    let report = verify(&pool).await;
    assert_eq!(report.checked, 24);
    assert_eq!(report.broken, None, "{report}");
    env.cleanup(&["audit"]).await;
}

#[tokio::test]
async fn an_action_that_fails_leaves_no_entry() {
    let (env, pool) = setup().await;
    write(&pool, &admin(), "license.suspend", "license:1".into(), 1).await;
    let failed = platform::db::transaction::<(), Problem, _>(&pool, |conn| {
        Box::pin(async move {
            audit::record(conn, &admin(), Utc::now(), Action::new("license.revoke", "license:1", json!({}))).await?;
            // The action itself fails after its entry was written: both roll back.
            Err(Problem::conflict("license_not_active", "the action failed"))
        })
    })
    .await;
    assert!(failed.is_err());
    let mut conn = pool.get().await.unwrap();
    let rows = audit::list(&mut conn, &AuditFilter::default(), None, 100).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["license.suspend"]);
    drop(conn);
    // The head moved back with the rollback: the next entry continues the chain.
    write(&pool, &admin(), "license.reinstate", "license:1".into(), 2).await;
    let report = verify(&pool).await;
    assert_eq!((report.checked, report.broken), (2, None));
    env.cleanup(&["audit"]).await;
}

#[tokio::test]
async fn the_database_refuses_update_delete_and_truncate() {
    let (env, pool) = setup().await;
    write(&pool, &admin(), "tokens.award", "user:1".into(), 1).await;
    for sql in ["UPDATE audit_log SET target = 'user:2'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = exec(&pool, sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(verify(&pool).await.broken, None);
    env.cleanup(&["audit"]).await;
}

/// What a superuser could do with the trigger disabled, each found by `verify` at the right entry.
#[tokio::test]
async fn tampering_is_reported_at_the_first_broken_link() {
    let (env, pool) = setup().await;
    for n in 1..=5 {
        write(&pool, &admin(), "payment.refund", format!("payment:{n}"), n).await;
    }
    exec(&pool, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only").await.unwrap();

    // A changed amount in entry 3.
    exec(&pool, "UPDATE audit_log SET changes = jsonb_set(changes, '{amount}', '\"0.01\"') WHERE seq = 3")
        .await
        .unwrap();
    let report = verify(&pool).await;
    let broken = report.broken.clone().expect("tampering found");
    assert_eq!((broken.seq, report.checked), (3, 2), "{report}");
    assert!(broken.reason.contains("content"), "{report}");
    let id3 = {
        let mut conn = pool.get().await.unwrap();
        let f = AuditFilter { target: Some("payment:3".into()), ..Default::default() };
        audit::list(&mut conn, &f, None, 1).await.unwrap()[0].id
    };
    assert_eq!(broken.id, Some(id3), "the report names the entry");
    assert!(report.to_string().contains(&id3.to_string()));

    // A forged hash on entry 3 is caught there too.
    exec(&pool, "UPDATE audit_log SET hash = repeat('a', 64) WHERE seq = 3").await.unwrap();
    let report = verify(&pool).await;
    assert_eq!(report.broken.map(|b| b.seq), Some(3));

    // An entry removed from the middle: the gap is named.
    exec(&pool, "DELETE FROM audit_log WHERE seq >= 3").await.unwrap();
    write(&pool, &admin(), "payment.refund", "payment:9".into(), 9).await;
    let report = verify(&pool).await;
    let broken = report.broken.expect("gap found");
    assert_eq!(broken.seq, 6);
    assert!(broken.reason.contains("3..5 are missing"), "{}", broken.reason);
    env.cleanup(&["audit"]).await;
}

#[tokio::test]
async fn entries_removed_from_the_end_are_found_by_the_chain_head() {
    let (env, pool) = setup().await;
    for n in 1..=3 {
        write(&pool, &admin(), "payout.create", format!("payout:{n}"), n).await;
    }
    exec(&pool, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only").await.unwrap();
    exec(&pool, "DELETE FROM audit_log WHERE seq = 3").await.unwrap();
    let report = verify(&pool).await;
    assert_eq!(report.checked, 2);
    assert!(report.broken.expect("truncation found").reason.contains("chain head says 3"));
    env.cleanup(&["audit"]).await;
}

#[tokio::test]
async fn reads_filter_and_paginate_newest_first() {
    let (env, pool) = setup().await;
    let other = AuditContext { actor_sub: "service:marketplace".into(), ..admin() };
    for n in 1..=7 {
        let ctx = if n % 2 == 0 { &other } else { &admin() };
        let action = if n <= 4 { "course.price.change" } else { "course.publish" };
        write(&pool, &ctx.clone(), action, format!("course:{}", n % 3), n).await;
    }
    let mut conn = pool.get().await.unwrap();
    let all = audit::list(&mut conn, &AuditFilter::default(), None, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [7, 6, 5, 4, 3, 2, 1]);
    let page1 = audit::list(&mut conn, &AuditFilter::default(), None, 3).await.unwrap();
    assert_eq!(page1.len(), 4, "limit + 1 tells that more exist");
    let cursor = audit::Cursor { at: page1[2].at, seq: page1[2].seq };
    let page2 = audit::list(&mut conn, &AuditFilter::default(), Some(cursor), 3).await.unwrap();
    assert_eq!(page2.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 3, 2, 1]);

    let by = |f: AuditFilter| f;
    let cases: Vec<(AuditFilter, Vec<i64>)> = vec![
        (by(AuditFilter { actor: Some("service:marketplace".into()), ..Default::default() }), vec![6, 4, 2]),
        (by(AuditFilter { action: Some("course.publish".into()), ..Default::default() }), vec![7, 6, 5]),
        (by(AuditFilter { target: Some("course:1".into()), ..Default::default() }), vec![7, 4, 1]),
        (
            by(AuditFilter {
                from: Some(Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 3).unwrap()),
                to: Some(Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 6).unwrap()),
                ..Default::default()
            }),
            vec![5, 4, 3],
        ),
    ];
    for (filter, expected) in cases {
        let got = audit::list(&mut conn, &filter, None, 100).await.unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), expected, "{filter:?}");
    }
    let e = &all[0];
    assert_eq!(
        (e.request_id.as_deref(), e.client_addr.as_deref(), e.actor_roles.clone()),
        (Some("req-1"), Some("203.0.113.7"), vec!["admin".to_string()])
    );
    drop(conn);
    env.cleanup(&["audit"]).await;
}

/// The chain survives a connection that is not the pool's (the CLI's own).
#[tokio::test]
async fn verify_runs_on_a_plain_connection() {
    let (env, pool) = setup().await;
    write(&pool, &admin(), "ticket.status", "ticket:1".into(), 1).await;
    let url = platform::db::url_with_schema(&testkit::database_url(), &env.schema("audit"));
    let mut conn = diesel_async::AsyncPgConnection::establish(&url).await.unwrap();
    assert_eq!(audit::verify(&mut conn).await.unwrap().checked, 1);
    env.cleanup(&["audit"]).await;
}
