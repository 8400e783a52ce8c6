//! Key rotation at the identity provider, seen by a running gateway: a JWKS server in the test
//! (actix on a random port) publishes key A, then A and B, then B only, or fails.

use crate::support::Stack;
use actix_web::{web, App, HttpResponse, HttpServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::jwt::{self, claims, sign};

const WHOAMI: &str = "/api/billing/whoami";
/// Key A signs RS256, key B EdDSA: two kids of the committed test keys.
const A: Algorithm = Algorithm::RS256;
const B: Algorithm = Algorithm::EdDSA;

/// The identity provider's JWKS endpoint, with a request counter.
struct Idp {
    document: Mutex<String>,
    fetches: AtomicUsize,
    failing: AtomicBool,
    delay_ms: AtomicU64,
}

struct IdpServer {
    idp: Arc<Idp>,
    url: String,
    handle: actix_web::dev::ServerHandle,
}

impl IdpServer {
    async fn start(algorithms: &[Algorithm]) -> Self {
        let idp = Arc::new(Idp {
            document: Mutex::new(jwks_of(algorithms)),
            fetches: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
        });
        let data = web::Data::from(idp.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route("/.well-known/jwks.json", web::get().to(serve_jwks))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { idp, url: format!("http://{addr}/.well-known/jwks.json"), handle }
    }

    fn publish(&self, algorithms: &[Algorithm]) {
        *self.idp.document.lock().unwrap() = jwks_of(algorithms);
    }

    fn fetches(&self) -> usize {
        self.idp.fetches.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn serve_jwks(idp: web::Data<Idp>) -> HttpResponse {
    idp.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = idp.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if idp.failing.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let body = idp.document.lock().unwrap().clone();
    HttpResponse::Ok().content_type("application/json").body(body)
}

/// The committed test JWKS restricted to the keys of `algorithms`.
fn jwks_of(algorithms: &[Algorithm]) -> String {
    let all: Value = serde_json::from_str(&std::fs::read_to_string(jwt::jwks_path()).unwrap()).unwrap();
    let kids: Vec<&str> = algorithms.iter().map(|a| jwt::kid_for(*a)).collect();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(keys.len(), algorithms.len());
    serde_json::json!({ "keys": keys }).to_string()
}

/// A fresh token (its own `sub`, so never answered from the verified-token cache) signed by `alg`'s key.
fn token(alg: Algorithm) -> String {
    sign(alg, &claims(&uuid::Uuid::now_v7().to_string(), &["learner"]))
}

async fn status(stack: &Stack, token: &str) -> u16 {
    stack.http.get(stack.url(WHOAMI)).bearer_auth(token).send().await.unwrap().status().as_u16()
}

async fn gateway_on(idp: &IdpServer, refresh_secs: u64, min_refetch_secs: u64) -> Stack {
    let url = idp.url.clone();
    Stack::start_with(move |c| {
        c.jwks_file = None;
        c.jwks_url = Some(url);
        c.jwks_refresh_secs = refresh_secs;
        c.jwks_min_refetch_secs = min_refetch_secs;
    })
    .await
}

async fn metric(stack: &Stack, series: &str) -> u64 {
    let text = stack.http.get(stack.gateway.metrics_url().unwrap()).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_refresh_follows_a_rotation_and_keeps_the_last_keys_when_the_idp_fails() {
    let idp = IdpServer::start(&[A]).await;
    // The periodic refresh only: unknown kids may not fetch during this test.
    let stack = gateway_on(&idp, 1, 3600).await;
    let old = token(A);
    assert_eq!(status(&stack, &old).await, 200, "key A verifies");
    assert_eq!(status(&stack, &token(B)).await, 401, "key B is not published yet");

    // Rotation, step 1: the provider publishes B beside A.
    idp.publish(&[A, B]);
    let new = token(B);
    testkit::eventually("a token signed with B is accepted", Duration::from_secs(5), || async {
        (status(&stack, &token(B)).await == 200).then_some(())
    })
    .await;
    assert_eq!(status(&stack, &new).await, 200);
    assert_eq!(status(&stack, &old).await, 200, "A still verifies during the overlap");

    // Step 2: A is withdrawn. Its tokens are refused, even the one verified (and cached) before.
    idp.publish(&[B]);
    testkit::eventually("the withdrawn key's cached token is refused", Duration::from_secs(5), || async {
        (status(&stack, &old).await == 401).then_some(())
    })
    .await;
    assert_eq!(status(&stack, &token(A)).await, 401);
    assert_eq!(status(&stack, &new).await, 200);

    // The provider fails: the gateway keeps serving with the last good keys, and says so.
    idp.idp.failing.store(true, Ordering::SeqCst);
    let before = idp.fetches();
    testkit::eventually("two failed refreshes", Duration::from_secs(6), || async {
        (idp.fetches() >= before + 2).then_some(())
    })
    .await;
    assert_eq!(status(&stack, &token(B)).await, 200, "a fresh B token still verifies");
    assert_eq!(status(&stack, &token(A)).await, 401);
    let failed =
        metric(&stack, r#"monetization_gateway_jwks_fetches_total{source="url",trigger="periodic",outcome="failed"}"#)
            .await;
    assert!(failed >= 2, "failed fetches are counted: {failed}");

    stack.stop().await;
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_fetches_once_per_min_interval_however_many_tokens_carry_one() {
    let idp = IdpServer::start(&[A]).await;
    // No periodic refresh: every fetch after the start is caused by an unknown kid.
    let stack = gateway_on(&idp, 0, 1).await;
    assert_eq!(idp.fetches(), 1, "one fetch at start");
    // The provider answers slowly, so the concurrent tokens below overlap one fetch in flight.
    idp.idp.delay_ms.store(300, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A real rotation first: B appears, and the first B token triggers the fetch that finds it.
    idp.publish(&[A, B]);
    let started = Instant::now();
    let burst: Vec<_> = (0..40).map(|_| token(B)).collect();
    let statuses = futures_util::future::join_all(burst.iter().map(|t| status(&stack, t))).await;
    assert!(statuses.iter().all(|s| *s == 200), "every B token waits for the one fetch: {statuses:?}");
    assert_eq!(idp.fetches(), 2, "40 concurrent unknown-kid tokens, one fetch (single-flight)");

    // Garbage kids, for ~3 min-intervals: each interval allows at most one more fetch.
    let eddsa = std::fs::read(format!("{}/test-eddsa.key.pem", jwt::keys_dir())).unwrap();
    let key = EncodingKey::from_ed_pem(&eddsa).unwrap();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(3200) {
        let garbage: Vec<String> = (0..20)
            .map(|_| {
                let mut header = Header::new(Algorithm::EdDSA);
                header.kid = Some(uuid::Uuid::new_v4().to_string());
                jwt::sign_with(header, &claims(&uuid::Uuid::now_v7().to_string(), &["learner"]), &key)
            })
            .collect();
        let statuses = futures_util::future::join_all(garbage.iter().map(|t| status(&stack, t))).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
        sent += garbage.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after_start = idp.fetches() - 1;
    let allowed = elapsed.floor() as usize + 1;
    assert!(
        after_start <= allowed,
        "{after_start} fetches in {elapsed:.1} s for {sent} garbage tokens (at most {allowed})"
    );
    assert!(after_start >= 2, "an unknown kid past the interval does fetch again: {after_start}");
    eprintln!(
        "jwks: {sent} garbage-kid tokens over {elapsed:.1} s caused {} fetches (allowed {allowed})",
        after_start - 1
    );
    let throttled = metric(&stack, "monetization_gateway_jwks_refetch_throttled_total").await;
    assert!(throttled as usize >= sent - allowed, "throttled {throttled} of {sent}");

    stack.stop().await;
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_file_is_read_again_and_a_broken_one_keeps_the_last_good_keys() {
    // A mounted ConfigMap changes under the running pod: the file source refreshes too.
    let path = std::env::temp_dir().join(format!("gateway-jwks-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(&path, jwks_of(&[A])).unwrap();
    let file = path.to_str().unwrap().to_string();
    let stack = Stack::start_with(move |c| {
        c.jwks_file = Some(file);
        c.jwks_refresh_secs = 1;
        c.jwks_min_refetch_secs = 3600;
    })
    .await;
    assert_eq!(status(&stack, &token(B)).await, 401);
    std::fs::write(&path, jwks_of(&[A, B])).unwrap();
    testkit::eventually("the file's new key is used", Duration::from_secs(5), || async {
        (status(&stack, &token(B)).await == 200).then_some(())
    })
    .await;

    // A half-written or invalid document is refused whole; the keys stay.
    std::fs::write(&path, r#"{"keys": [{"kty": "RSA"#).unwrap();
    let series = r#"monetization_gateway_jwks_fetches_total{source="file",trigger="periodic",outcome="failed"}"#;
    testkit::eventually("a failed read is counted", Duration::from_secs(5), || async {
        (metric(&stack, series).await >= 1).then_some(())
    })
    .await;
    assert_eq!(status(&stack, &token(A)).await, 200);
    assert_eq!(status(&stack, &token(B)).await, 200);

    stack.stop().await;
    let _ = std::fs::remove_file(&path);
}
