//! Issue 14, items 8 and 9, where a client goes: through the gateway in front of the real
//! services. A path that is not in normal form never reaches a service (`curl --path-as-is` used
//! to read rewards' readiness and reach subscriptions' internal route), and a crafted cursor is a
//! 422 problem, never a crashed handler (a 502 at the gateway).

use crate::support::{Platform, User};
use platform::pagination::encode_cursor;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `method target` sent byte for byte over a socket (HTTP clients resolve dot-segments first).
async fn raw(p: &Platform, method: &str, target: &str, user: &User) -> (u16, serde_json::Value) {
    let mut sock = tokio::net::TcpStream::connect(p.gateway.addr).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}",
        user.token
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_paths_and_crafted_cursors_are_refused_at_the_gateway() {
    let p = Platform::start().await;
    let learner = User::learner();
    let admin = User::admin();

    for (method, target, user) in [
        ("GET", "/api/tokens/../../health/ready", &learner),
        ("GET", "/api/tokens/..%2f..%2fhealth/ready", &learner),
        ("POST", "/api/subscriptions/%2e%2e/%2e%2e/internal/features/check", &learner),
        // An admin token would pass the internal route's role check: the path alone must stop it.
        ("POST", "/api/subscriptions/%2E%2E/.%2e/internal/features/check", &admin),
        ("POST", "/api/subscriptions/%2e%2e%5c%2e%2e%5cinternal/features/check", &admin),
        ("GET", "/api/courses/%2e%2e/%2e%2e/health/ready", &learner),
    ] {
        let (status, body) = raw(&p, method, target, user).await;
        assert_eq!(status, 400, "{method} {target}: {body}");
        assert_eq!(body["code"], "invalid_path", "{method} {target}: {body}");
    }
    // The same routes in normal form still work.
    assert_eq!(p.get(Some(&learner), "/api/tokens/balance").await.status, 200);

    // Item 9: the catalogue cursor (an overflow panic, so a 502, before) and the friends board's.
    let relevance = encode_cursor(&json!({"sort": "relevance", "offset": i64::MAX}));
    let res = p.get(None, &format!("/api/courses/list?q=rust&cursor={relevance}")).await;
    assert_eq!((res.status, res.body["code"].as_str()), (422, Some("invalid_cursor")), "{}", res.body);
    let position = encode_cursor(&json!(u64::MAX));
    let res = p.get(Some(&learner), &format!("/api/leaderboard/friends?cursor={position}")).await;
    assert_eq!((res.status, res.body["code"].as_str()), (422, Some("invalid_cursor")), "{}", res.body);
    p.stop().await;
}
