use crate::support::{config, Webhooks};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use platform::auth::Role;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn endpoint_crud_secret_shown_once_and_sealed_at_rest() {
    let w = Webhooks::start(config()).await;
    let key = "create-1";
    let body = json!({"url": "http://127.0.0.1:9/h", "event_types": ["billing.*", "rewards.tokens.awarded.v1"]});
    let (status, created) = w.call(Method::POST, "/api/admin/webhooks/endpoints", Some(body.clone()), Some(key)).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["enabled"], true);
    let id = created["id"].as_str().unwrap().to_string();

    // The idempotent replay answers the same endpoint without the secret.
    let (status, again) = w.call(Method::POST, "/api/admin/webhooks/endpoints", Some(body), Some(key)).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], created["id"]);
    assert!(again["secret"].is_null());

    // Nowhere in the database in clear: not in the endpoint row, not in the idempotency store.
    let mut conn = w.svc.pool.get().await.unwrap();
    let dump: Vec<String> = diesel::sql_query(
        "SELECT t::text AS t FROM (SELECT row_to_json(e)::text AS t FROM endpoints e
                                 UNION ALL SELECT row_to_json(k)::text FROM idempotency_keys k) x",
    )
    .load::<Row>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.t)
    .collect();
    assert!(!dump.is_empty());
    let b64 = secret.trim_start_matches("whsec_");
    assert!(dump.iter().all(|row| !row.contains(b64)), "the secret is stored in clear");
    drop(conn);

    let (status, got) = w.call(Method::GET, &format!("/api/admin/webhooks/endpoints/{id}"), None, None).await;
    assert_eq!(status, 200);
    assert!(got.get("secret").is_none());
    assert_eq!(got["event_types"], json!(["billing.*", "rewards.tokens.awarded.v1"]));

    let patch = json!({"enabled": false, "description": "paused"});
    let (status, got) = w.call(Method::PATCH, &format!("/api/admin/webhooks/endpoints/{id}"), Some(patch), None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["enabled"], false);
    assert_eq!(got["description"], "paused");

    let (status, page) = w.call(Method::GET, "/api/admin/webhooks/endpoints?limit=1", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"][0]["id"], created["id"]);

    let (status, _) = w.call(Method::DELETE, &format!("/api/admin/webhooks/endpoints/{id}"), None, None).await;
    assert_eq!(status, 204);
    let (status, _) = w.call(Method::GET, &format!("/api/admin/webhooks/endpoints/{id}"), None, None).await;
    assert_eq!(status, 404);
    w.stop().await;
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

#[tokio::test]
async fn bad_input_and_non_admins_are_refused_and_change_nothing() {
    let w = Webhooks::start(config()).await;
    for (body, field) in [
        (json!({"url": "http://127.0.0.1:9/", "event_types": ["billing.payment.nope.v1"]}), "event_types[0]"),
        (json!({"url": "http://127.0.0.1:9/", "event_types": ["nobody.*"]}), "event_types[0]"),
        (json!({"url": "http://127.0.0.1:9/", "event_types": []}), "event_types"),
        (json!({"url": "ftp://127.0.0.1/", "event_types": ["billing.*"]}), "url"),
        (json!({"url": "http://10.0.0.1/", "event_types": ["billing.*"]}), "url"),
        (json!({"url": "http://169.254.169.254/latest", "event_types": ["billing.*"]}), "url"),
        (json!({"url": "http://[::1]:9/", "event_types": ["billing.*"]}), "url"),
    ] {
        let (status, p) = w.call(Method::POST, "/api/admin/webhooks/endpoints", Some(body.clone()), Some("k")).await;
        assert_eq!(status, 422, "{body} -> {p}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let (status, p) = w
        .call(Method::POST, "/api/admin/webhooks/endpoints", Some(json!({"url": "http://127.0.0.1:9/"})), Some("k2"))
        .await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["errors"][0]["field"], "event_types");
    let (status, _) = w
        .call(
            Method::POST,
            "/api/admin/webhooks/endpoints",
            Some(json!({"url": "http://127.0.0.1:9/", "event_types": ["billing.*"]})),
            None,
        )
        .await;
    assert_eq!(status, 400, "no Idempotency-Key");

    let res = w
        .http
        .get(format!("{}/api/admin/webhooks/endpoints", w.svc.url()))
        .header("x-internal-token", w.token(&[Role::Learner]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, page) = w.call(Method::GET, "/api/admin/webhooks/endpoints", None, None).await;
    assert_eq!(page["data"], json!([]));
    w.stop().await;
}

#[tokio::test]
async fn without_the_allowlist_loopback_is_refused_at_registration() {
    let w = Webhooks::start(webhooks::Config { allowed_hosts: String::new(), ..config() }).await;
    for url in ["http://127.0.0.1:9/", "http://localhost:9/", "http://[::ffff:127.0.0.1]/"] {
        let (status, p) = w.create(url, &["billing.*"]).await;
        assert_eq!(status, 422, "{url}: {p}");
        assert!(p["errors"][0]["message"].as_str().unwrap().contains("refused"), "{p}");
    }
    w.stop().await;
}
