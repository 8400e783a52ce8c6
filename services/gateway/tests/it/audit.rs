//! `GET /api/admin/audit` through the gateway: each service's log under its own path, and every
//! log merged by time with filters and a cursor that neither skips nor repeats; admins only.

use crate::support::gateway_config;
use chrono::{Duration, TimeZone, Utc};
use platform::audit::{Action, AuditContext};
use runtime::RunningService;
use serde_json::{json, Value};

const SERVICES: [&str; 6] = ["billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"];

fn spec(name: &'static str) -> runtime::ServiceSpec {
    runtime::ServiceSpec { name, migrations: &events::MIGRATIONS, openapi: runtime::no_api }
}

fn ctx(actor: &str) -> AuditContext {
    AuditContext {
        actor_sub: actor.into(),
        actor_roles: vec!["admin".into()],
        actor_org: None,
        request_id: None,
        trace_id: None,
        client_addr: None,
    }
}

async fn write(svc: &RunningService, actor: &str, action: &'static str, target: String, second: i64) {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::seconds(second);
    let ctx = ctx(actor);
    platform::db::transaction::<_, platform::Problem, _>(&svc.pool, move |conn| {
        Box::pin(
            async move { Ok(platform::audit::record(conn, &ctx, at, Action::new(action, target, json!({}))).await?) },
        )
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merged_log_filters_and_paginates_and_only_admins_read_it() {
    let env = testkit::TestEnv::new();
    let mut services = Vec::new();
    for name in SERVICES {
        let config = env.service_config(name);
        runtime::migrate(&spec(name), &config).await.unwrap();
        let svc = runtime::start(&spec(name), config, |_| {
            Ok(runtime::Wiring { routes: std::sync::Arc::new(|_| {}), handler: None, background: Vec::new() })
        })
        .await
        .unwrap();
        services.push(svc);
    }
    // Each service writes at seconds i, i+5, i+10: 18 entries, two of them at the same second
    // in two services (a tie the cursor must not split wrongly).
    for (i, svc) in services.iter().enumerate() {
        for k in 0..3 {
            let second = i as i64 + 5 * k;
            let actor = if k == 1 { "admin-b" } else { "admin-a" };
            write(svc, actor, "thing.change", format!("thing:{second}"), second).await;
        }
    }
    write(&services[4], "admin-a", "thing.change", "thing:tie".into(), 3).await;
    let mut gw = gateway_config(&services[0].url());
    gw.subscriptions_url = services[1].url();
    gw.marketplace_url = services[2].url();
    gw.rewards_url = services[3].url();
    gw.licensing_url = services[4].url();
    gw.webhooks_url = services[5].url();
    let gateway = gateway::start(gw).await.unwrap();
    let http = testkit::http();
    let admin = testkit::jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["admin"]);
    let get = |path: String, token: String| {
        let http = http.clone();
        let url = format!("{}{path}", gateway.url());
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };

    // All of it, 4 at a time: every entry once, newest first.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/admin/audit?limit=4&cursor={c}"),
            None => "/api/admin/audit?limit=4".into(),
        };
        let res = get(path, admin.clone()).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        for e in page["data"].as_array().unwrap() {
            seen.push((e["at"].as_str().unwrap().to_string(), e["service"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 19, "{seen:?}");
    let times: Vec<&String> = seen.iter().map(|(at, _)| at).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first across services");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 19, "no entry twice");

    // Filters go to every service; `service=` reads one.
    let page: Value = get("/api/admin/audit?actor=admin-b".into(), admin.clone()).await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 6);
    let page: Value = get("/api/admin/audit?service=rewards".into(), admin.clone()).await.json().await.unwrap();
    let data = page["data"].as_array().unwrap();
    assert!(data.len() == 3 && data.iter().all(|e| e["service"] == "rewards"), "{page}");
    let from = "2026-12-01T00:00:10Z";
    let page: Value = get(format!("/api/admin/audit?from={from}"), admin.clone()).await.json().await.unwrap();
    // Every service's third entry (i + 10) and webhooks' second (5 + 5).
    assert_eq!(page["data"].as_array().unwrap().len(), 7);
    let page: Value = get("/api/admin/audit?service=webhooks".into(), admin.clone()).await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 3, "{page}");
    // One service's log under its own path, routed like any other.
    let res = get("/api/admin/audit/licensing?target=thing:tie".into(), admin.clone()).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);

    let learner = testkit::jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    assert_eq!(get("/api/admin/audit".into(), learner.clone()).await.status(), 403);
    assert_eq!(get("/api/admin/audit/billing".into(), learner).await.status(), 403);
    assert_eq!(http.get(format!("{}/api/admin/audit", gateway.url())).send().await.unwrap().status(), 401);
    assert_eq!(get("/api/admin/audit?service=nope".into(), admin.clone()).await.status(), 422);
    assert_eq!(get("/api/admin/audit?colour=red".into(), admin).await.status(), 422);

    gateway.stop().await;
    for svc in services {
        svc.stop().await;
    }
    env.cleanup(&SERVICES).await;
}
