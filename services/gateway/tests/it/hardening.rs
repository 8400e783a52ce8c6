//! Issue 21, point 5: the tighter limit of the expensive routes (searches, exports, reports, audit
//! reads) and `X-Content-Type-Options: nosniff` on every answer.

use crate::support::{assert_problem, Stack};
use testkit::jwt;

/// Statuses of `n` GETs of `path` with `token` (anonymous when `None`).
async fn statuses(stack: &Stack, path: &str, token: Option<&str>, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        let mut req = stack.http.get(stack.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        out.push(req.send().await.unwrap().status().as_u16());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_expensive_limit_a_429_with_retry_after_while_cheap_routes_still_pass() {
    let stack = Stack::start_with(|c| {
        c.rate_limit_expensive_per_min = 1;
        c.rate_limit_expensive_burst = 3;
    })
    .await;
    let admin = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["admin"]);
    // The test upstream has no report route: forwarded, it answers 404; refused, the gateway 429.
    let report = "/api/admin/reports/payments";
    assert_eq!(statuses(&stack, report, Some(&admin), 3).await, [404, 404, 404], "the burst is forwarded");
    let res = stack.http.get(stack.url(report)).bearer_auth(&admin).send().await.unwrap();
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // One a minute: the next one is up to a minute away.
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = assert_problem(res, 429, "rate_limited").await;
    assert!(body["detail"].as_str().unwrap().contains("tighter limit"), "{body}");
    // The same admin's cheap reads are untouched, and so is another admin's report.
    assert_eq!(statuses(&stack, "/api/billing/whoami", Some(&admin), 20).await, [200; 20]);
    let other = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["admin"]);
    assert_eq!(statuses(&stack, report, Some(&other), 1).await, [404], "a bucket per user");
    // The audit reads and the other reports share that user's bucket: all spent.
    assert_eq!(statuses(&stack, "/api/admin/audit/billing", Some(&admin), 1).await, [429]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_catalogue_search_is_limited_per_address_and_browsing_is_not() {
    let stack = Stack::start_with(|c| {
        c.rate_limit_expensive_per_min = 1;
        c.rate_limit_expensive_burst = 2;
    })
    .await;
    // Marketplace's routes go to the same test upstream, which answers 404.
    let search = statuses(&stack, "/api/courses/list?q=rust", None, 4).await;
    assert_eq!(search, [404, 404, 429, 429], "a search is forwarded twice, then refused");
    let browse = statuses(&stack, "/api/courses/list?limit=5", None, 10).await;
    assert!(browse.iter().all(|s| *s == 404), "browsing without q is not expensive: {browse:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_says_nosniff() {
    let stack = Stack::start().await;
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let ok = stack.http.get(stack.url("/api/billing/whoami")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let problem = stack.http.get(stack.url("/api/billing/whoami")).send().await.unwrap();
    assert_eq!(problem.status(), 401);
    let health = stack.http.get(stack.url("/health/live")).send().await.unwrap();
    for res in [ok, problem, health] {
        assert_eq!(res.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"));
    }
    stack.stop().await;
}
