use crate::support::{assert_problem, Stack};
use testkit::jwt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_user_rate_a_429_with_retry_after_and_others_are_unaffected() {
    let stack = Stack::start_with(|c| {
        c.rate_limit_user_per_sec = 2;
        c.rate_limit_user_burst = 3;
    })
    .await;
    let alice = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let bob = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let mut limited = None;
    for _ in 0..10 {
        let res = stack.http.get(stack.url("/api/billing/whoami")).bearer_auth(&alice).send().await.unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let res = limited.expect("alice was never rate limited");
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_problem(res, 429, "rate_limited").await;
    let res = stack.http.get(stack.url("/api/billing/whoami")).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(res.status(), 200, "bob shares no bucket with alice");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_limit_applies_before_token_verification() {
    let stack = Stack::start_with(|c| {
        c.rate_limit_ip_per_sec = 1;
        c.rate_limit_ip_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = stack.http.get(stack.url("/api/billing/whoami")).bearer_auth("garbage").send().await.unwrap();
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.starts_with(&[401, 401, 401]), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_413() {
    let stack = Stack::start_with(|c| c.body_limit_bytes = 1024).await;
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let res = stack
        .http
        .post(stack.url("/api/payments/anything"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_upload_route_takes_bodies_above_the_small_limit() {
    let stack = Stack::start_with(|c| {
        c.body_limit_bytes = 1024;
        c.upload_body_limit_bytes = 64 * 1024;
    })
    .await;
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["instructor"]);
    let post = |path: &str, size: usize| {
        stack
            .http
            .post(stack.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(vec![b'x'; size])
            .send()
    };
    // Past the gateway: the upstream (a bare service here) answers, whatever it says.
    let res = post("/api/courses/upload", 16 * 1024).await.unwrap();
    assert_ne!(res.status(), 413, "an upload above the small limit reaches the service");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_ne!(res.json::<serde_json::Value>().await.unwrap()["code"], "payload_too_large");
    assert_problem(post("/api/courses/upload", 65 * 1024).await.unwrap(), 413, "payload_too_large").await;
    for elsewhere in ["/api/courses/upload/x", "/api/courses/list", "/api/payments/anything"] {
        assert_problem(post(elsewhere, 16 * 1024).await.unwrap(), 413, "payload_too_large").await;
    }
    stack.stop().await;
}
