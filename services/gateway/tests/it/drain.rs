//! Shutdown drains like the domain services': readiness 503 first, requests served through the
//! delay, then the listener closes while in-flight requests finish within the grace.

use crate::support::gateway_config;
use actix_web::{web, App, HttpResponse, HttpServer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// An upstream whose webhook route takes 3 s: a request in flight through the gateway.
async fn slow_upstream(entered: Arc<Notify>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = HttpServer::new(move || {
        let entered = entered.clone();
        App::new().route(
            "/api/payments/webhook",
            web::post().to(move || {
                let entered = entered.clone();
                async move {
                    entered.notify_one();
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    HttpResponse::Ok().body("done")
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    url
}

#[tokio::test]
async fn shutdown_drains_readiness_first_finishes_in_flight_requests_and_refuses_new_connections() {
    let entered = Arc::new(Notify::new());
    let upstream = slow_upstream(entered.clone()).await;
    let mut config = gateway_config(&upstream);
    config.shutdown_delay_secs = 1;
    config.shutdown_grace_secs = 10;
    let gateway = gateway::start(config).await.expect("gateway starts");
    let addr = gateway.addr;
    let base = gateway.url();
    let http = testkit::http();
    assert_eq!(http.get(format!("{base}/health/ready")).send().await.expect("ready").status(), 200);

    // A public route, forwarded to the slow upstream.
    let slow = tokio::spawn({
        let (http, url) = (http.clone(), format!("{base}/api/payments/webhook"));
        async move {
            let res = http.post(url).body("{}").send().await.expect("in-flight request answered");
            (res.status().as_u16(), res.text().await.expect("body"))
        }
    });
    tokio::time::timeout(Duration::from_secs(5), entered.notified()).await.expect("the request reached the upstream");

    let started = Instant::now();
    let stopping = tokio::spawn(gateway.stop());

    // Within the delay: still serving, but readiness tells load balancers to send nothing new.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = http.get(format!("{base}/health/ready")).send().await.expect("ready while draining");
    assert_eq!(ready.status(), 503, "readiness goes 503 before the listener closes");
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "draining", "{body}");
    assert_eq!(http.get(format!("{base}/health/live")).send().await.expect("live").status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1), "the checks above ran inside the delay");

    // After the delay: the listener closes while the request is still in flight.
    let refused = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) => break e,
            Ok(_) if started.elapsed() < Duration::from_secs(3) => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(_) => panic!("new connections still accepted {:?} after shutdown began", started.elapsed()),
        }
    };
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
    assert!(started.elapsed() >= Duration::from_millis(900), "the listener closed before the delay was over");
    assert!(!slow.is_finished(), "the listener should close while the request is in flight");

    let (status, body) = tokio::time::timeout(Duration::from_secs(10), slow).await.expect("in time").expect("task");
    assert_eq!((status, body.as_str()), (200, "done"), "the in-flight request completes during shutdown");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stop within the grace").expect("task");
}
