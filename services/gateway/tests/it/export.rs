//! `GET /api/me/export` and `GET /api/admin/users/{user_id}/export` through the gateway: every
//! service's part in one document, the caller's own or (admins) anyone's; and a 503 naming the
//! service, never a partial document, when one does not answer.

use crate::support::{assert_problem, gateway_config};
use platform::privacy::Section;
use serde_json::{json, Value};
use uuid::Uuid;

const SERVICES: [&str; 6] = ["billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"];

/// Each stand-in service answers one section: the user asked for, and a decimal.
const SECTIONS: &[Section] =
    &[Section::new("probe", "SELECT $1::uuid AS user_id, 12.5000::numeric AS amount, 7::bigint AS tokens")];

fn spec(name: &'static str) -> runtime::ServiceSpec {
    runtime::ServiceSpec { name, migrations: &events::MIGRATIONS, openapi: runtime::no_api }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_services_part_in_one_document_for_the_user_or_an_admin_and_503_when_one_is_down() {
    let env = testkit::TestEnv::new();
    let mut services = Vec::new();
    for name in SERVICES {
        let config = env.service_config(name);
        runtime::migrate(&spec(name), &config).await.unwrap();
        let svc = runtime::start(&spec(name), config, |ctx| {
            let routes = platform::privacy::routes(ctx.pool.clone(), SECTIONS);
            Ok(runtime::Wiring {
                routes: std::sync::Arc::new(move |cfg| routes(cfg)),
                handler: None,
                background: Vec::new(),
            })
        })
        .await
        .unwrap();
        services.push(svc);
    }
    let mut gw = gateway_config(&services[0].url());
    gw.subscriptions_url = services[1].url();
    gw.marketplace_url = services[2].url();
    gw.rewards_url = services[3].url();
    gw.licensing_url = services[4].url();
    gw.webhooks_url = services[5].url();
    let gateway = gateway::start(gw).await.unwrap();
    let http = testkit::http();
    let get = |path: String, token: Option<String>| {
        let mut req = http.get(format!("{}{path}", gateway.url()));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        async move { req.send().await.unwrap() }
    };
    let (ada, admin) = (Uuid::now_v7(), Uuid::now_v7());
    let ada_token = testkit::jwt::user_token(&ada.to_string(), &["learner"]);
    let admin_token = testkit::jwt::user_token(&admin.to_string(), &["admin"]);

    let res = get("/api/me/export".into(), Some(ada_token.clone())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["user_id"], json!(ada));
    assert!(doc["generated_at"].as_str().is_some(), "{doc}");
    let parts = doc["services"].as_object().unwrap();
    assert_eq!(
        parts.keys().collect::<Vec<_>>(),
        ["billing", "licensing", "marketplace", "rewards", "subscriptions", "webhooks"]
    );
    for (service, part) in parts {
        assert_eq!(part, &json!({"probe": [{"user_id": ada, "amount": "12.5", "tokens": 7}]}), "{service}");
    }

    // Another user's data: admins only.
    let other = format!("/api/admin/users/{ada}/export");
    assert_problem(
        get(other.clone(), Some(testkit::jwt::user_token(&Uuid::now_v7().to_string(), &["learner"]))).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(get(format!("/api/admin/users/{admin}/export"), Some(ada_token.clone())).await, 403, "forbidden")
        .await;
    let by_admin: Value = get(other.clone(), Some(admin_token.clone())).await.json().await.unwrap();
    assert_eq!((&by_admin["user_id"], &by_admin["services"]), (&doc["user_id"], &doc["services"]));
    assert_problem(get("/api/admin/users/not-a-uuid/export".into(), Some(admin_token.clone())).await, 404, "not_found")
        .await;
    assert_problem(get("/api/me/export".into(), None).await, 401, "unauthorized").await;
    assert_problem(get("/api/me/export?format=zip".into(), Some(ada_token.clone())).await, 422, "validation_failed")
        .await;
    let post = http.post(format!("{}/api/me/export", gateway.url())).bearer_auth(&ada_token).send().await.unwrap();
    assert_eq!(post.status(), 405);

    // One service down: no document at all, and the problem names it.
    let rewards = services.remove(3);
    rewards.stop().await;
    let problem = assert_problem(get("/api/me/export".into(), Some(ada_token)).await, 503, "unavailable").await;
    assert!(problem["detail"].as_str().unwrap().contains("rewards"), "{problem}");
    assert!(problem.get("services").is_none(), "{problem}");
    assert_problem(get(other, Some(admin_token)).await, 503, "unavailable").await;

    gateway.stop().await;
    for svc in services {
        svc.stop().await;
    }
    env.cleanup(&SERVICES).await;
}
