//! `InternalClient` with several replicas of the callee: a replica that refuses connections
//! (down, restarting) costs one immediate retry on the next, never the call.

use actix_web::{web, App, HttpResponse, HttpServer};
use platform::auth::InternalAuth;
use platform::config::Secret;
use platform::internal::InternalClient;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A callee answering `{"replica": name}` and counting its calls.
fn callee(name: &'static str) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().route(
            "/internal/thing",
            web::post().to(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                async move { HttpResponse::Ok().json(json!({ "replica": name })) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (url, calls)
}

/// An address nothing listens on: connecting is refused.
fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn client(urls: &str) -> InternalClient {
    let auth = InternalAuth::new(&Secret::new("internal-test-secret"), "marketplace");
    InternalClient::new(urls, "billing", Duration::from_secs(2), auth).unwrap()
}

#[actix_web::test]
async fn calls_spread_over_the_replicas_in_turn() {
    let (one, one_calls) = callee("one");
    let (two, two_calls) = callee("two");
    let c = client(&format!("{one},{two}/"));
    for _ in 0..6 {
        let _: Value = c.post("/internal/thing", Some("k"), &json!({})).await.unwrap();
    }
    assert_eq!((one_calls.load(Ordering::Relaxed), two_calls.load(Ordering::Relaxed)), (3, 3));
}

#[actix_web::test]
async fn a_refusing_replica_fails_over_to_the_next_at_once() {
    let (live, live_calls) = callee("live");
    let c = client(&format!("{},{live}", refused_url()));
    let started = Instant::now();
    for _ in 0..4 {
        let answer: Value = c.post("/internal/thing", Some("k"), &json!({})).await.unwrap();
        assert_eq!(answer["replica"], "live");
    }
    assert_eq!(live_calls.load(Ordering::Relaxed), 4);
    // No backoff before the other replica: the first retry's sleep alone would be 400 ms.
    assert!(started.elapsed() < Duration::from_millis(400), "{:?}", started.elapsed());
}

#[actix_web::test]
async fn one_url_keeps_working_as_before() {
    let (only, calls) = callee("only");
    let c = client(&only);
    let answer: Value = c.post("/internal/thing", None, &json!({})).await.unwrap();
    assert_eq!(answer["replica"], "only");
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
