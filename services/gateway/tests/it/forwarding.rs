use crate::support::{assert_problem, gateway_config, Stack};
use std::time::Duration;
use testkit::jwt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_routes_and_the_webhook_pass_without_a_token() {
    let stack = Stack::start().await;
    // Forwarded without a token: the bare upstream has neither route, so its own 404 problem
    // comes back (a refusal by the gateway would be 401 `unauthorized`).
    let res = stack.http.post(stack.url("/api/payments/webhook")).body("{}").send().await.unwrap();
    assert_problem(res, 404, "not_found").await;
    let res = stack.http.get(stack.url("/api/subscriptions/tiers")).send().await.unwrap();
    assert_problem(res, 404, "not_found").await;
    // A private route without a token is refused by the gateway itself.
    let res = stack.http.get(stack.url("/api/tokens/balance")).send().await.unwrap();
    assert_problem(res, 401, "unauthorized").await;
    // A path outside the route table is a 404 problem.
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let res = stack.http.get(stack.url("/api/nowhere")).bearer_auth(&token).send().await.unwrap();
    assert_problem(res, 404, "not_found").await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_echoed_and_propagated() {
    let stack = Stack::start().await;
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let res = stack
        .http
        .get(stack.url("/api/billing/whoami"))
        .bearer_auth(&token)
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-abc-123");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], "req-abc-123");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_is_502_and_slow_upstream_is_504() {
    // An upstream that accepts connections but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = gateway_config(&format!("http://{closed}"));
    config.rewards_url = format!("http://{silent_addr}");
    config.upstream_timeout_ms = 300;
    let gw = gateway::start(config).await.unwrap();
    let http = testkit::http();
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let res = http.get(format!("{}/api/payments/history", gw.url())).bearer_auth(&token).send().await.unwrap();
    assert_problem(res, 502, "upstream_unavailable").await;
    let started = std::time::Instant::now();
    let res = http.get(format!("{}/api/tokens/balance", gw.url())).bearer_auth(&token).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_problem(res, 504, "upstream_timeout").await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_allowlisted_origins() {
    let stack = Stack::start().await;
    let preflight = |origin: &'static str| {
        stack
            .http
            .request(reqwest::Method::OPTIONS, stack.url("/api/tokens/balance"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(!evil.headers().contains_key("access-control-allow-origin"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_without_a_token() {
    let stack = Stack::start().await;
    let res = stack.http.get(stack.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/payments/{id}"].is_object());
    stack.stop().await;
}
