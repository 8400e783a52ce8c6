use crate::support::{assert_problem, gateway_config, Stack};
use gateway::config::GatewayConfig;
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
    // Past the gateway: the upstream answers. It is a bare service named billing standing in for
    // marketplace, so it refuses the internal token minted for marketplace: its 401, not a 413.
    let res = post("/api/courses/upload", 16 * 1024).await.unwrap();
    assert_problem(res, 401, "unauthorized").await;
    assert_problem(post("/api/courses/upload", 65 * 1024).await.unwrap(), 413, "payload_too_large").await;
    for elsewhere in ["/api/courses/upload/x", "/api/courses/list", "/api/payments/anything"] {
        assert_problem(post(elsewhere, 16 * 1024).await.unwrap(), 413, "payload_too_large").await;
    }
    stack.stop().await;
}

/// Two gateway replicas in front of one service, a client whose requests alternate between them
/// (as ingress-nginx spreads them): with `GATEWAY_RATE_LIMIT_REPLICAS=2` together they admit the
/// configured burst; without it (the control), twice as much.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_the_division_admit_about_the_configured_total() {
    const RATE: u32 = 2;
    const BURST: u32 = 20;
    let fleet = |replicas: u32| {
        move |c: &mut GatewayConfig| {
            c.rate_limit_user_per_sec = RATE;
            c.rate_limit_user_burst = BURST;
            c.rate_limit_replicas = replicas;
        }
    };
    for (replicas, configured_total) in [(2, BURST), (1, 2 * BURST)] {
        let stack = Stack::start_with(fleet(replicas)).await;
        let mut second = gateway_config(&stack.billing.url());
        fleet(replicas)(&mut second);
        let second = gateway::start(second).await.unwrap();
        let replicas_urls = [stack.url("/api/billing/whoami"), format!("{}/api/billing/whoami", second.url())];
        let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
        let started = std::time::Instant::now();
        let mut admitted = 0u32;
        for i in 0..4 * BURST as usize {
            let res = stack.http.get(&replicas_urls[i % 2]).bearer_auth(&token).send().await.unwrap();
            match res.status().as_u16() {
                200 => admitted += 1,
                429 => {}
                other => panic!("unexpected {other}"),
            }
        }
        // GCRA refills at RATE/s over the fleet while the loop runs.
        let refill = (started.elapsed().as_secs_f64() * f64::from(RATE)).ceil() as u32 + 1;
        eprintln!(
            "limits: replicas={replicas}: {admitted} of {} admitted, configured total {configured_total}",
            4 * BURST
        );
        assert!(
            (configured_total..=configured_total + refill).contains(&admitted),
            "replicas={replicas}: admitted {admitted}, expected {configured_total} (+{refill} refilled)"
        );
        second.stop().await;
        stack.stop().await;
    }
}
