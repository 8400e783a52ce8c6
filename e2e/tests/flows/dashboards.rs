//! The Grafana dashboards and the alert rules against a real Prometheus: the main flows (a course
//! purchase, a subscription, a token redemption, an enterprise seat, an expired checkout, an
//! erasure, a refused token, webhook deliveries to an endpoint that does not answer) run through
//! the gateway, a Prometheus from Debian's package scrapes every process's
//! metrics listener each second with deploy/prometheus/rules.yml loaded, and then every dashboard
//! panel's PromQL and every rule's PromQL goes through its HTTP API: each must parse, each panel
//! must return data, and every metric a panel names must be one the stack exports (so a fallback
//! such as `or vector(0)` cannot hide a typo).

use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const JOBS: [&str; 7] = ["gateway", "billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"];
const DASHBOARDS: [&str; 8] =
    ["overview", "gateway", "billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Prometheus process scraping the flow's stack, killed (and its data removed) on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    url: String,
    http: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// `targets`: (job, host:port) of each metrics listener.
    async fn start(targets: &[(&str, String)]) -> Self {
        let status = Command::new(repo().join("scripts/ensure-prometheus.sh")).status().expect("ensure-prometheus.sh");
        assert!(status.success(), "Prometheus could not be installed");
        let dir = std::env::temp_dir().join(format!("e2e-prometheus-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("prometheus dir");
        // scrape_timeout defaults to 10 s, which Prometheus refuses above a 1 s interval.
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n",
            repo().join("deploy/prometheus/rules.yml").display()
        );
        for (job, target) in targets {
            config.push_str(&format!("  - job_name: {job}\n    static_configs:\n      - targets: [\"{target}\"]\n"));
        }
        std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
        // Prometheus cannot report a port it picked itself: take a free one and hand it over.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let prom = Self { child, dir, url: format!("http://127.0.0.1:{port}"), http: testkit::http() };
        prom.until("Prometheus ready", || async {
            let res = prom.http.get(format!("{}/-/ready", prom.url)).send().await.ok()?;
            res.status().is_success().then_some(())
        })
        .await;
        prom
    }

    async fn until<T, F, Fut>(&self, what: &str, check: F) -> T
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
                panic!("timed out waiting for {what}; prometheus log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), query).expect("query URL");
        let res = self.http.get(url).send().await.expect("prometheus answers");
        res.json().await.expect("prometheus JSON")
    }

    /// `Ok(number of series or samples)` or `Err(Prometheus' error)`.
    async fn query(&self, expr: &str) -> Result<usize, String> {
        let body = self.api("/api/v1/query", &[("query", expr)]).await;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(match &body["data"]["result"] {
            Value::Array(series) => series.len(),
            Value::Null => 0,
            _ => 1, // a scalar or a string
        })
    }
}

/// The panel exprs of one dashboard, rows' nested panels included, with what Grafana would
/// substitute for its variables.
fn panel_exprs(board: &Value) -> Vec<(String, String)> {
    fn walk(panels: &[Value], out: &mut Vec<(String, String)>) {
        for panel in panels {
            if let Some(nested) = panel["panels"].as_array() {
                walk(nested, out);
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = str_of(&target["expr"])
                    .replace("$__rate_interval", "30s")
                    .replace("$__interval", "5s")
                    .replace("$__range", "5m");
                assert!(!expr.contains('$'), "an unsupported Grafana variable in {expr}");
                out.push((str_of(&panel["title"]), expr));
            }
        }
    }
    let mut out = Vec::new();
    walk(board["panels"].as_array().expect("panels"), &mut out);
    out
}

/// Loadable by a plain Grafana: a schema version, a unique uid, the Prometheus datasource as the
/// only variable, and every panel and query on that variable.
fn check_loadable(name: &str, board: &Value, uids: &mut BTreeSet<String>) {
    assert!(board["schemaVersion"].as_u64().is_some_and(|v| v >= 30), "{name}: schemaVersion");
    assert!(uids.insert(str_of(&board["uid"])), "{name}: duplicate uid");
    let vars = board["templating"]["list"].as_array().expect("templating");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "{name}: the datasource variable"
    );
    let ds = json!({"type": "prometheus", "uid": "${datasource}"});
    for panel in board["panels"].as_array().expect("panels").iter().filter(|p| p["type"] != "row") {
        assert_eq!(panel["datasource"], ds, "{name}: panel {}", panel["title"]);
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{name}: panel {} has no query", panel["title"]);
        assert!(targets.iter().all(|t| t["datasource"] == ds), "{name}: panel {}", panel["title"]);
    }
}

/// The metric names an expr reads (the platform's families and `up`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| ["monetization_", "http_server_", "db_pool_"].iter().any(|p| t.starts_with(p)) || *t == "up")
        .map(|t| {
            ["_total", "_bucket", "_count", "_sum"].iter().find_map(|s| t.strip_suffix(s)).unwrap_or(t).to_string()
        })
        .collect()
}

async fn drive_main_flows(p: &Platform) {
    // A webhook endpoint nobody answers at (a closed loopback port, allowed in the e2e
    // configuration): every event below is attempted, fails and waits for its retry (webhooks'
    // attempts, latency and backlog).
    let admin = User::admin();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let body = json!({"url": format!("http://127.0.0.1:{closed}/hooks"), "event_types": ["marketplace.*"]});
    let res = p.post_key(&admin, "/api/admin/webhooks/endpoints", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);

    // A course purchase (billing, marketplace, rewards).
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} dashboards", unique_word()), "20.00").await;
    p.buy(&learner, &str_of(&course["id"])).await;

    // A subscription to Pro, paid (subscriptions, billing).
    let subscriber = User::learner();
    let res = p.post_key(&subscriber, "/api/subscriptions", json!({"tier": "pro"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    p.confirm(&res.body["client_secret"], "pm_card_visa");
    p.wait_feature(&subscriber, "certificates", true).await;

    // A token redemption (rewards, subscriptions).
    let catalog = p.get(Some(&learner), "/api/tokens/catalog").await;
    let cost = catalog.body["data"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["item"] == "pro_month"))
        .and_then(|i| i["cost"].as_i64())
        .expect("pro_month is on the catalogue");
    let award = json!({"user_id": learner.id, "amount": cost, "reason": "e2e: dashboards"});
    let awarded = p.post_key(&admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
    assert_eq!(awarded.status, 201, "{}", awarded.body);
    let redeem = json!({"item": "pro_month"});
    let redeemed = p.post_key(&learner, "/api/tokens/redeem", redeem, &Uuid::new_v4().to_string()).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    p.wait_feature(&learner, "certificates", true).await;

    // An enterprise license with a seat taken (licensing).
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Dash {suffix}"), "domain": format!("dash-{suffix}.example.com")},
        "seats": 2,
        "tier": "enterprise",
        "starts_at": now - chrono::Duration::hours(1),
        "expires_at": now + chrono::Duration::days(365),
    });
    let created = p.post_key(&admin, "/api/enterprise/licenses/create", license, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let member = User::learner();
    let key = json!({"license_key": created.body["license_key"]});
    assert_eq!(p.post(&member, "/api/enterprise/licenses/activate", key).await.status, 201);

    // An abandoned checkout expires: marketplace asks billing to void its intent (billing's consumer).
    let abandoned = User::learner();
    p.purchase(&abandoned, &str_of(&course["id"])).await;
    p.marketplace_clock.advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    p.eventually("billing consumed the void request", || async {
        p.metrics("billing").await.contains("monetization_events_consumed_total{").then_some(())
    })
    .await;

    // An erasure (every service confirms it: webhooks publishes its confirmation).
    let erased = User::learner();
    let res = p.post_key(&admin, &format!("/api/admin/users/{}/erasure", erased.id), json!(null), "dash-erase").await;
    assert_eq!(res.status, 202, "{}", res.body);
    p.events.wait_for("webhooks.user.erased.v1", |d| d["user_id"] == erased.id.to_string()).await;

    // A refused token, for the gateway's JWT panel.
    let refused = reqwest::Client::new()
        .get(p.url("/api/tokens/balance"))
        .header("Authorization", "Bearer not-a-jwt")
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(refused.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_and_alert_rule_runs_on_a_real_prometheus() {
    // The dashboards first: a malformed file fails before any stack starts.
    let mut uids = BTreeSet::new();
    let mut boards = Vec::new();
    let dir = repo().join("k8s/components/monitoring/dashboards");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("k8s/components/monitoring/dashboards")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(String::from))
        .collect();
    assert_eq!(on_disk, DASHBOARDS.iter().map(|s| s.to_string()).collect(), "one dashboard per service + overview");
    for name in DASHBOARDS {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("dashboard");
        let board: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"));
        check_loadable(name, &board, &mut uids);
        boards.push((name, panel_exprs(&board)));
    }

    let p = Platform::start().await;
    drive_main_flows(&p).await;

    let targets: Vec<(&str, String)> = JOBS
        .iter()
        .map(|job| {
            let url = p.metrics_url(job);
            let target = url.trim_start_matches("http://").trim_end_matches("/metrics").to_string();
            (*job, target)
        })
        .collect();
    let prom = Prometheus::start(&targets).await;
    // Every target up, with at least three scrapes each, so that rate() over 30 s has two points.
    prom.until("three scrapes of every target", || async {
        let up = prom.query("count(up == 1) == 7").await.ok()?;
        let scraped = prom.query("count(count_over_time(up[1m]) >= 3) == 7").await.ok()?;
        (up == 1 && scraped == 1).then_some(())
    })
    .await;

    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    let mut panels = 0;
    for (board, exprs) in &boards {
        for (title, expr) in exprs {
            panels += 1;
            used.extend(metric_names(expr));
            match prom.query(expr).await {
                Ok(0) => failures.push(format!("{board} / {title}: no data for {expr}")),
                Ok(_) => {}
                Err(e) => failures.push(format!("{board} / {title}: {e} in {expr}")),
            }
        }
    }

    // Every name a panel reads is a family the stack exports: the scraped metadata (HELP/TYPE
    // lines, present even for a family with no sample yet) plus the series names.
    let metadata = prom.api("/api/v1/metadata", &[]).await;
    let mut exported: BTreeSet<String> =
        metadata["data"].as_object().expect("metadata").keys().map(|k| metric_names(k).into_iter().collect()).collect();
    let series = prom.api("/api/v1/label/__name__/values", &[]).await;
    exported.extend(series["data"].as_array().expect("names").iter().flat_map(|n| metric_names(&str_of(n))));
    for name in used.difference(&exported) {
        failures.push(format!("the dashboards read {name}, which no process exports"));
    }

    // Every rule of deploy/prometheus/rules.yml loaded, evaluated without error, and its expr
    // parses through the query API as well.
    let rules_text = std::fs::read_to_string(repo().join("deploy/prometheus/rules.yml")).expect("rules.yml");
    let in_file = rules_text
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:") || l.trim_start().starts_with("- record:"))
        .count();
    let rules: Vec<Value> = prom
        .until("every rule evaluated", || async {
            let body = prom.api("/api/v1/rules", &[]).await;
            let rules: Vec<Value> = body["data"]["groups"]
                .as_array()?
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            rules.iter().all(|r| r["health"] != "unknown").then_some(rules)
        })
        .await;
    assert_eq!(rules.len(), in_file, "every rule of rules.yml is loaded");
    for rule in &rules {
        let name = str_of(&rule["name"]);
        if rule["health"] != "ok" {
            failures.push(format!("rule {name}: {} {}", rule["health"], rule["lastError"]));
        }
        if let Err(e) = prom.query(&str_of(&rule["query"])).await {
            failures.push(format!("rule {name}: {e}"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {panels} panels and {} rules failed:\n{}",
        failures.len(),
        rules.len(),
        failures.join("\n")
    );
    drop(prom);
    p.stop().await;
}
