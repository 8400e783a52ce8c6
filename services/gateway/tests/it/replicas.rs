//! Several upstream URLs per service (replicas outside Kubernetes): calls take turns, and a
//! connection refused moves a call to the next replica — but nothing that may have reached a
//! service is ever sent a second time.

use crate::support::gateway_config;
use std::sync::{Arc, Mutex};
use testkit::jwt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a fake replica does with a request once it has read it whole.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answer 200 with its own name.
    Answer,
    /// Drop the connection without a word: the request reached it, its effect is unknown.
    Hang,
    /// Draining or starting: `/health/ready` answers 503, anything else is still served.
    NotReady,
}

/// A replica that records the request line and body of everything it receives.
struct FakeReplica {
    url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeReplica {
    async fn start(name: &'static str, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    // One request per connection: the answer says `connection: close`.
                    let Some((line, body)) = read_request(&mut sock).await else { return };
                    let probe = line.starts_with("GET /health/ready ");
                    log.lock().unwrap().push((line, body));
                    let status = match behaviour {
                        Behaviour::Hang => return,
                        Behaviour::NotReady if probe => "503 Service Unavailable",
                        _ => "200 OK",
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                        name.len()
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                });
            }
        });
        Self { url, seen }
    }

    /// The requests it got, readiness probes left out.
    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().iter().filter(|(line, _)| !line.starts_with("GET /health/ready ")).cloned().collect()
    }
}

/// The request line and the body (by `content-length`) of one HTTP/1.1 request.
async fn read_request(sock: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match sock.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    sock.read_exact(&mut body).await.ok()?;
    Some((head.lines().next().unwrap_or_default().to_string(), String::from_utf8_lossy(&body).into_owned()))
}

/// An address nothing listens on: connecting to it is refused.
fn refusing() -> String {
    format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap())
}

async fn metric(gw: &gateway::RunningGateway, series: &str) -> f64 {
    let text = testkit::http().get(gw.metrics_url().unwrap()).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

fn token() -> String {
    jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_take_turns_across_the_replicas_of_a_service() {
    let (a, b) = (FakeReplica::start("a", Behaviour::Answer).await, FakeReplica::start("b", Behaviour::Answer).await);
    let mut config = gateway_config(&refusing());
    config.billing_url = format!("{}, {}/", a.url, b.url);
    let gw = gateway::start(config).await.unwrap();
    let http = testkit::http();
    let token = token();
    let mut answered_by = Vec::new();
    // Two route prefixes of one service share one rotation.
    for path in ["/api/payments/history", "/api/billing/whoami"].iter().cycle().take(10) {
        let res = http.get(format!("{}{path}", gw.url())).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        answered_by.push(res.text().await.unwrap());
    }
    assert_eq!(answered_by, ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]);
    assert_eq!((a.seen().len(), b.seen().len()), (5, 5));
    assert_eq!(metric(&gw, "monetization_gateway_upstream_failovers_total{service=\"billing\"}").await, 0.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_sends_the_call_to_the_next_replica_body_and_all() {
    let live = FakeReplica::start("live", Behaviour::Answer).await;
    let mut config = gateway_config(&refusing());
    config.billing_url = format!("{},{}", refusing(), live.url);
    // Probes off: the failover itself is under test, not the readiness that avoids it.
    config.upstream_probe_ms = 0;
    let gw = gateway::start(config).await.unwrap();
    let http = testkit::http();
    let token = token();
    for i in 0..6 {
        let body = format!("{{\"n\":{i}}}");
        let res = http
            .post(format!("{}/api/payments/checkout", gw.url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "call {i} reaches the live replica");
        assert_eq!(res.text().await.unwrap(), "live");
    }
    let seen = live.seen();
    let bodies: Vec<&str> = seen.iter().map(|(_, body)| body.as_str()).collect();
    assert_eq!(bodies, ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"]);
    assert!(seen.iter().all(|(line, _)| line == "POST /api/payments/checkout HTTP/1.1"));
    // Every other call started on the refusing replica and moved on.
    assert_eq!(metric(&gw, "monetization_gateway_upstream_failovers_total{service=\"billing\"}").await, 3.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_reached_a_replica_is_never_sent_to_another() {
    let lost = FakeReplica::start("lost", Behaviour::Hang).await;
    let other = FakeReplica::start("other", Behaviour::Answer).await;
    let mut config = gateway_config(&refusing());
    config.billing_url = format!("{},{}", lost.url, other.url);
    // Probes off: the failover itself is under test, not the readiness that avoids it.
    config.upstream_probe_ms = 0;
    let gw = gateway::start(config).await.unwrap();
    let http = testkit::http();
    // The first call goes to `lost`, which reads it and drops the connection: maybe it charged.
    let res = http
        .post(format!("{}/api/payments/checkout", gw.url()))
        .bearer_auth(token())
        .header("content-type", "application/json")
        .body("{\"course\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(lost.seen().len(), 1);
    assert!(other.seen().is_empty(), "a request that may have had its effect is not sent again");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_connection_is_lost_goes_to_the_next_replica() {
    let lost = FakeReplica::start("lost", Behaviour::Hang).await;
    let other = FakeReplica::start("other", Behaviour::Answer).await;
    let mut config = gateway_config(&refusing());
    config.billing_url = format!("{},{}", lost.url, other.url);
    // Probes off: the failover itself is under test, not the readiness that avoids it.
    config.upstream_probe_ms = 0;
    let gw = gateway::start(config).await.unwrap();
    // A replica closing its connections as it stops: a GET has no effect, so it is sent again.
    let res =
        testkit::http().get(format!("{}/api/payments/history", gw.url())).bearer_auth(token()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "other");
    assert_eq!((lost.seen().len(), other.seen().len()), (1, 1));
    assert_eq!(metric(&gw, "monetization_gateway_upstream_failovers_total{service=\"billing\"}").await, 1.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_failing_its_readiness_probe_gets_no_calls_while_another_is_ready() {
    let draining = FakeReplica::start("draining", Behaviour::NotReady).await;
    let ready = FakeReplica::start("ready", Behaviour::Answer).await;
    let mut config = gateway_config(&refusing());
    config.billing_url = format!("{},{}", draining.url, ready.url);
    let gw = gateway::start(config).await.unwrap();
    // The first probe runs at start; give it time to answer.
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    let http = testkit::http();
    for _ in 0..6 {
        let res = http.get(format!("{}/api/payments/history", gw.url())).bearer_auth(token()).send().await.unwrap();
        assert_eq!(res.text().await.unwrap(), "ready");
    }
    assert!(draining.seen().is_empty(), "no call to a replica that says it is not ready");
    assert_eq!(ready.seen().len(), 6);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_no_replica_is_ready_calls_still_go_to_one() {
    let (a, b) =
        (FakeReplica::start("a", Behaviour::NotReady).await, FakeReplica::start("b", Behaviour::NotReady).await);
    let mut config = gateway_config(&refusing());
    config.billing_url = format!("{},{}", a.url, b.url);
    let gw = gateway::start(config).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    let res =
        testkit::http().get(format!("{}/api/payments/history", gw.url())).bearer_auth(token()).send().await.unwrap();
    assert_eq!(res.status(), 200, "a probe may be wrong: some answer beats none");
    assert_eq!(a.seen().len() + b.seen().len(), 1);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_upload_gets_one_replica_only() {
    let live = FakeReplica::start("live", Behaviour::Answer).await;
    let mut config = gateway_config(&refusing());
    config.marketplace_url = format!("{},{}", refusing(), live.url);
    // Probes off: the failover itself is under test, not the readiness that avoids it.
    config.upstream_probe_ms = 0;
    let gw = gateway::start(config).await.unwrap();
    // The upload's body is streamed, not kept: once given to a replica it cannot be sent again.
    let res = testkit::http()
        .post(format!("{}/api/courses/upload", gw.url()))
        .bearer_auth(jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["instructor"]))
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(live.seen().is_empty());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_upstream_list_is_refused_at_start() {
    let mut config = gateway_config(&refusing());
    config.rewards_url = " , ".into();
    let err = gateway::start(config).await.err().expect("no gateway without a rewards replica");
    assert!(err.contains("GATEWAY_REWARDS_URL"), "{err}");
}
