//! The gateway routes and forwards one path: the one the client sent, in normal form, or nothing.
//! Requests go out as raw HTTP over a socket, because HTTP clients (reqwest, curl without
//! `--path-as-is`) resolve dot-segments before sending, which would hide the attack.

use crate::support::gateway_config;
use std::sync::{Arc, Mutex};
use testkit::jwt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that records the request line of everything it receives and answers 200.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let head = read_head(&mut sock).await;
                    log.lock().unwrap().push(head.lines().next().unwrap_or_default().to_string());
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream")
                        .await;
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// The request or response head (up to the blank line), as text.
async fn read_head(sock: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match sock.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Send `method target` byte for byte, as `curl --path-as-is` would; the status and body back.
async fn raw(gateway: &str, method: &str, target: &str, token: &str) -> (u16, String) {
    let mut sock = TcpStream::connect(gateway.trim_start_matches("http://")).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {token}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

async fn gateway_in_front_of(recorder: &Recorder) -> gateway::RunningGateway {
    gateway::start(gateway_config(&recorder.url)).await.expect("gateway starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_encoded_separators_and_nul_are_refused_before_routing() {
    let upstream = Recorder::start().await;
    let gw = gateway_in_front_of(&upstream).await;
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let refused = [
        ("GET", "/api/tokens/../../health/ready"),
        ("GET", "/api/tokens/../tokens/balance"),
        ("GET", "/api/tokens/./balance"),
        ("GET", "/api/tokens/.."),
        ("GET", "/api/tokens/."),
        ("POST", "/api/subscriptions/%2e%2e/%2e%2e/internal/features/check"),
        ("POST", "/api/subscriptions/%2E%2E/%2E%2E/internal/features/check"),
        ("POST", "/api/subscriptions/.%2e/.%2E/internal/features/check"),
        ("POST", "/api/subscriptions/%2e./%2E./internal/features/check"),
        ("GET", "/api/tokens/%2e/balance"),
        ("GET", "/api/tokens/..%2f..%2fhealth/ready"),
        ("GET", "/api/tokens/..%2F..%2Fhealth/ready"),
        ("GET", "/api/tokens%2f..%2f..%2finternal"),
        ("GET", "/api/tokens/..%5c..%5chealth/ready"),
        ("GET", "/api/tokens/..%5C..%5Chealth/ready"),
        ("GET", "/api/tokens/%00"),
        ("GET", "/api/tokens/balance%00.json"),
        ("GET", "/api/tokens/%252e%252e/%252e%252e/health/ready"),
        ("GET", "/api/tokens/%"),
        ("GET", "/api/courses/%6dine"),
        ("GET", "//api/tokens/balance"),
        ("GET", "/api//tokens/balance"),
        ("GET", "/api/subscriptions//internal/features/check"),
        ("GET", "/health/../api/tokens/balance"),
        ("GET", "/health/%2e%2e/api/tokens/balance"),
    ];
    for (method, target) in refused {
        let (status, body) = raw(&gw.url(), method, target, &token).await;
        assert_eq!(status, 400, "{method} {target} answered {status}: {body}");
        let problem: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{target}: not problem+json: {body}"));
        assert_eq!(problem["code"], "invalid_path", "{target}: {problem}");
    }
    // A raw backslash: refused, by the gateway or by its HTTP parser, and never forwarded.
    for target in ["/api/tokens/..\\..\\health/ready", "/api/tokens\\..\\..\\internal\\features\\check"] {
        let (status, body) = raw(&gw.url(), "GET", target, &token).await;
        assert_eq!(status, 400, "{target} answered {status}: {body}");
    }
    assert_eq!(upstream.seen(), Vec::<String>::new(), "nothing abnormal reached the upstream");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_path_matched_is_the_path_forwarded_byte_for_byte() {
    let upstream = Recorder::start().await;
    let gw = gateway_in_front_of(&upstream).await;
    let token = jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["learner"]);
    let forwarded = [
        ("GET", "/api/tokens/balance"),
        ("GET", "/api/features/team.management"),
        ("GET", "/api/courses/caf%C3%A9/reviews?limit=2&cursor=a%2Fb"),
        ("GET", "/api/tokens/a%20b/..c/d../..."),
        ("POST", "/api/subscriptions/me/cancel/"),
    ];
    for (method, target) in forwarded {
        let (status, body) = raw(&gw.url(), method, target, &token).await;
        assert_eq!((status, body.as_str()), (200, "upstream"), "{method} {target}");
        let seen = upstream.seen();
        assert_eq!(seen.last().map(String::as_str), Some(format!("{method} {target} HTTP/1.1").as_str()));
    }
    gw.stop().await;
}
