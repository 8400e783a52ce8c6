//! Issue 23, points 1-4: signed outgoing webhooks through the gateway, verified by the Standard
//! Webhooks reference library from PyPI (scripts/webhook-receiver.py, in the venv that
//! scripts/ensure-webhook-verifier.sh installs), never by our own code. The platform runs the
//! shortened schedule of `support::webhooks_config` (1 s between attempts, 1 s deadline,
//! disabled after 4 s of failures, 4 s rotation grace).

use crate::support::{str_of, Platform, User};
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

/// The Python receiver, killed when dropped.
struct Receiver {
    _child: tokio::process::Child,
    base: String,
    http: reqwest::Client,
}

impl Receiver {
    async fn start() -> Self {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let out = std::process::Command::new("bash")
            .arg(format!("{root}/scripts/ensure-webhook-verifier.sh"))
            .output()
            .expect("ensure-webhook-verifier.sh runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let mut child = tokio::process::Command::new(python)
            .arg(format!("{root}/scripts/webhook-receiver.py"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the receiver starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let port = first.strip_prefix("listening ").expect("listening <port>").to_string();
        Self { _child: child, base: format!("http://127.0.0.1:{port}"), http: testkit::http() }
    }

    fn url(&self) -> String {
        format!("{}/hooks", self.base)
    }

    async fn control(&self, change: Value) {
        let res = self.http.post(format!("{}/_control", self.base)).json(&change).send().await.unwrap();
        assert_eq!(res.status(), 204);
    }

    async fn log(&self) -> Vec<Value> {
        self.http.get(format!("{}/_log", self.base)).send().await.unwrap().json().await.unwrap()
    }

    /// Once no request came for 1.5 s: the deliveries of earlier events are over, so a mode set
    /// now applies to the next event's.
    async fn quiet(&self) {
        let mut seen = self.log().await.len();
        loop {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let now = self.log().await.len();
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    /// The requests that carried event `id`, once there are `n`.
    async fn wait_for(&self, p: &Platform, id: &str, n: usize) -> Vec<Value> {
        p.eventually(&format!("{n} requests for {id}"), || async {
            let got: Vec<Value> = self.log().await.into_iter().filter(|e| e["id"] == id).collect();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn award(p: &Platform, admin: &User) -> String {
    let body = json!({"user_id": Uuid::now_v7(), "amount": 3, "reason": "webhooks flow"});
    let res = p.post_key(admin, "/api/tokens/award", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let tx = str_of(&res.body["transaction_id"]);
    let event = p.events.wait_for("rewards.tokens.awarded.v1", |d| d["transaction_id"] == tx.as_str()).await;
    event.id.to_string()
}

async fn attempts(p: &Platform, admin: &User, path: &str, n: usize) -> Vec<Value> {
    p.eventually(&format!("{n} attempts at {path}"), || async {
        let res = p.get(Some(admin), path).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let data = res.body["data"].as_array().cloned().unwrap_or_default();
        (data.len() >= n).then_some(data)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_retry_disable_replay_rotate_and_refuse_private_addresses() {
    let p = Platform::start().await;
    let rx = Receiver::start().await;
    let admin = User::admin();

    // 1. Registration through the gateway: admins only, the secret shown once.
    let body =
        json!({"url": rx.url(), "event_types": ["billing.*", "marketplace.*", "rewards.*"], "description": "LMS"});
    let res = p.post_key(&User::learner(), "/api/admin/webhooks/endpoints", body.clone(), "k").await;
    assert_eq!(res.status, 403);
    let res = p.post_key(&admin, "/api/admin/webhooks/endpoints", body, "register").await;
    assert_eq!(res.status, 201, "{}", res.body);
    let first = str_of(&res.body["secret"]);
    let endpoint = str_of(&res.body["id"]);
    rx.control(json!({"secrets": {"first": first}})).await;

    // 2. A real purchase: billing's, marketplace's and rewards' events arrive, each verified.
    let instructor = User::instructor();
    let course = p.publish_course(&instructor, &crate::support::unique_word(), "19.99").await;
    let buyer = User::learner();
    let bought = p.buy(&buyer, &str_of(&course["id"])).await;
    let paid =
        p.events.wait_for("billing.payment.succeeded.v1", |d| d["payment_id"] == bought.payment_id.as_str()).await;
    let purchased =
        p.events.wait_for("marketplace.course.purchased.v1", |d| d["purchase_id"] == bought.purchase_id.as_str()).await;
    for id in [paid.id.to_string(), purchased.id.to_string()] {
        let got = rx.wait_for(&p, &id, 1).await;
        assert_eq!(got[0]["verified_by"], json!(["first"]), "{id}: {got:?}");
        assert_eq!(got[0]["answered"], 200);
    }

    // 3. Failing, then timing out, then recovering: the log shows the shortened schedule.
    rx.quiet().await;
    rx.control(json!({"fail_first": 1, "sleep_first": 1, "sleep_secs": 2.5})).await;
    let event = award(&p, &admin).await;
    rx.wait_for(&p, &event, 3).await;
    let log = attempts(&p, &admin, &format!("/api/admin/webhooks/events/{event}/attempts"), 3).await;
    let oldest_first: Vec<&Value> = log.iter().rev().collect();
    assert_eq!(oldest_first[0]["status_code"], 500);
    assert!(oldest_first[1]["status_code"].is_null(), "a timeout: {}", oldest_first[1]);
    assert!(oldest_first[1]["error"].as_str().unwrap().contains("timed out"), "{}", oldest_first[1]);
    assert!(oldest_first[1]["latency_ms"].as_i64().unwrap() >= 900);
    assert_eq!(oldest_first[2]["status_code"], 200);
    assert_eq!(oldest_first[2]["response_body"], r#"{"received": true}"#);
    let at = |a: &Value| a["attempted_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    for pair in oldest_first.windows(2) {
        // The previous attempt's duration, 1 s (plus up to 20% jitter) and the dispatcher's poll.
        let gap = (at(pair[1]) - at(pair[0])).num_milliseconds();
        assert!(gap >= 1000, "attempts {gap} ms apart");
    }
    let by_endpoint =
        attempts(&p, &admin, &format!("/api/admin/webhooks/endpoints/{endpoint}/attempts?limit=2"), 2).await;
    assert_eq!(by_endpoint.len(), 2);

    // 4. Replay of one event: the same webhook-id again, verified.
    let purchased_id = purchased.id.to_string();
    let replay = json!({"event_id": purchased_id});
    let path = format!("/api/admin/webhooks/endpoints/{endpoint}/replay");
    let res = p.post_key(&admin, &path, replay, "replay-one").await;
    assert_eq!(res.status, 202, "{}", res.body);
    let got = rx.wait_for(&p, &purchased_id, 2).await;
    assert_eq!(got[1]["verified_by"], json!(["first"]));

    // 5. Rotation: both secrets verify during the grace, only the new one after it.
    let rotate = format!("/api/admin/webhooks/endpoints/{endpoint}/rotate-secret");
    let res = p.call(Method::POST, &rotate, Some(&admin), None, Some("rotate")).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let second = str_of(&res.body["secret"]);
    rx.control(json!({"secrets": {"first": first, "second": second}})).await;
    let during = award(&p, &admin).await;
    let got = rx.wait_for(&p, &during, 1).await;
    assert_eq!(got[0]["verified_by"], json!(["first", "second"]));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = award(&p, &admin).await;
    let got = rx.wait_for(&p, &after, 1).await;
    assert_eq!(got[0]["verified_by"], json!(["second"]), "the old secret stopped signing");

    // 6. SSRF: private addresses are refused at registration, and at delivery when a URL turns
    // private afterwards (set directly in the database: the API would refuse it).
    for url in ["http://10.0.0.5/hooks", "http://169.254.169.254/latest/meta-data", "http://[::ffff:192.168.1.1]/"] {
        let res = p
            .post_key(&admin, "/api/admin/webhooks/endpoints", json!({"url": url, "event_types": ["rewards.*"]}), url)
            .await;
        assert_eq!(res.status, 422, "{url}: {}", res.body);
        assert_eq!(res.body["errors"][0]["field"], "url");
    }
    let body = json!({"url": rx.url(), "event_types": ["rewards.tokens.awarded.v1"]});
    let res = p.post_key(&admin, "/api/admin/webhooks/endpoints", body, "second-endpoint").await;
    assert_eq!(res.status, 201, "{}", res.body);
    let turned = str_of(&res.body["id"]);
    {
        let mut conn = p.webhooks[0].pool.get().await.unwrap();
        diesel::sql_query("UPDATE endpoints SET url = 'http://10.0.0.5:9/hooks' WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(turned.parse::<Uuid>().unwrap())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let event = award(&p, &admin).await;
    let log = attempts(&p, &admin, &format!("/api/admin/webhooks/endpoints/{turned}/attempts"), 1).await;
    assert_eq!(log[0]["event_id"], event.as_str());
    assert!(log[0]["error"].as_str().unwrap().contains("refused"), "{}", log[0]);

    // 7. An endpoint failing for longer than the period is disabled, and an event says so.
    rx.quiet().await;
    rx.control(json!({"fail_first": 1000})).await;
    award(&p, &admin).await;
    let disabled = p.events.wait_for("webhooks.endpoint.disabled.v1", |d| d["endpoint_id"] == endpoint.as_str()).await;
    assert_eq!(disabled.subject, endpoint);
    let res = p.get(Some(&admin), &format!("/api/admin/webhooks/endpoints/{endpoint}")).await;
    assert_eq!(res.body["enabled"], false, "{}", res.body);
    assert!(res.body["disabled_reason"].as_str().unwrap().contains("HTTP 500"));
    let seen = rx.log().await.len();
    award(&p, &admin).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later: Vec<Value> = rx.log().await.into_iter().skip(seen).collect();
    assert!(later.is_empty(), "a disabled endpoint gets nothing: {later:?}");
    assert!(rx.log().await.iter().all(|e| !e["verified_by"].as_array().unwrap().is_empty()), "every request verified");
    drop(rx);
    p.stop().await;
}
