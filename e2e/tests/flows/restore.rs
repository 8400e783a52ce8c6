//! Backups you have restored (issue 18, point 6): the restore drill of docs/runbooks/restore.md,
//! on the real PostgreSQL and RabbitMQ, with the real scripts (`make backup` / `make restore`).
//!
//! Flows are driven mid-way (purchases completed, a redemption, an enterprise seat, then purchases
//! still waiting for their payment); the service's schema is dumped while payments keep
//! completing; more complete after the dump (the live service applies them: the snapshot misses
//! them) and while the service is down (its queue keeps them). The schema is restored into a
//! FRESH database, the service started on it (same schema name, same port, same queue), and each
//! other service's outbox since the snapshot replayed to it (`<producer> outbox replay`). Then:
//! every purchase is completed exactly once, earns its buyer tokens exactly once and its
//! instructor exactly 70 %; the ledger sums equal the balances; the restored outbox drains; the
//! replayed events it had already applied were dropped by its inbox (duplicates counted). Billing
//! restored this way also has its reconcile job settle, from Stripe, the payments whose webhooks
//! went to the lost timeline or failed while it was down.

use crate::support::{str_of, unique_word, Platform, User, SERVICES};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `database_url` with its database replaced by `db`.
fn with_database(database_url: &str, db: &str) -> String {
    let (base, query) = database_url.split_once('?').map_or((database_url, ""), |(b, q)| (b, q));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    if query.is_empty() {
        format!("{server}/{db}")
    } else {
        format!("{server}/{db}?{query}")
    }
}

/// One value (or rows, `|`-separated) of `query`, with psql.
fn sql(url: &str, query: &str) -> String {
    let out =
        Command::new("psql").args(["-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", query]).output().expect("psql");
    assert!(out.status.success(), "{query}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run `scripts/<script>` for `service` on `database_url` / `schema`; returns stdout and stderr.
fn script(script: &str, service: &str, database_url: &str, schema: &str, args: &[&str]) -> (String, String) {
    let p = service.to_uppercase();
    let out = Command::new(repo().join("scripts").join(script))
        .arg(service)
        .args(args)
        .env(format!("{p}_DATABASE_URL"), database_url)
        .env(format!("{p}_DATABASE_SCHEMA"), schema)
        .output()
        .expect("run the script");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "{script} {service} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The snapshot time in the archive's table of contents (what the restore script prints).
fn archive_time(file: &Path) -> chrono::DateTime<chrono::Utc> {
    let out = Command::new("pg_restore").arg("--list").arg(file).env("TZ", "UTC").output().expect("pg_restore");
    let toc = String::from_utf8_lossy(&out.stdout);
    let line = toc.lines().find_map(|l| l.split("Archive created at ").nth(1)).expect("the archive's time");
    let bare = line.trim().trim_end_matches(" UTC");
    chrono::NaiveDateTime::parse_from_str(bare, "%Y-%m-%d %H:%M:%S").expect("a time").and_utc()
}

/// The sum of a counter's samples whose labels contain every one of `labels`.
fn counter(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A buyer and the purchase they are paying for.
struct Sale {
    buyer: User,
    purchase: Value,
}

impl Sale {
    fn id(&self) -> String {
        str_of(&self.purchase["id"])
    }
}

/// The invariants of `service`'s schema at `url`: each a query that must answer 0.
fn invariants(service: &str) -> Vec<(&'static str, &'static str)> {
    match service {
        "rewards" => vec![
            (
                "ledger sums equal balances",
                "SELECT count(*) FROM token_balances b FULL JOIN (SELECT user_id, sum(amount) AS s FROM \
                 token_transactions GROUP BY user_id) t USING (user_id) WHERE coalesce(b.balance, 0) <> coalesce(t.s, 0)",
            ),
            (
                "one ledger entry per cause",
                "SELECT count(*) FROM (SELECT 1 FROM token_transactions GROUP BY source, idempotency_ref \
                 HAVING count(*) > 1) d",
            ),
            (
                "each balance's spendable and debt match its ledger",
                "SELECT count(*) FROM token_balances WHERE spendable < 0 OR debt < 0",
            ),
        ],
        "marketplace" => vec![
            (
                "earnings are 70 % of each completed sale, booked once",
                "SELECT count(*) FROM purchases p WHERE p.status = 'completed' AND p.price > 0 AND \
                 ((SELECT count(*) FROM earnings e WHERE e.purchase_id = p.id AND e.kind = 'sale') <> 1 \
                 OR (SELECT sum(amount) FROM earnings e WHERE e.purchase_id = p.id AND e.kind = 'sale') \
                 <> p.instructor_share OR p.instructor_share <> round(p.price * 0.70, 2))",
            ),
            (
                "instructor and platform shares sum to the gross",
                "SELECT count(*) FROM purchases WHERE instructor_share IS NOT NULL \
                 AND instructor_share + platform_share <> price",
            ),
        ],
        "billing" => vec![
            (
                "receipt numbers are gap-free per year",
                "SELECT count(*) FROM (SELECT split_part(receipt_number, '-', 2) AS year, count(*) AS n, \
                 max(split_part(receipt_number, '-', 3)::bigint) AS top FROM payments \
                 WHERE receipt_number IS NOT NULL GROUP BY 1) r WHERE n <> top",
            ),
            (
                "the counters are where the numbers are",
                "SELECT count(*) FROM receipt_counters c WHERE c.series = 'RCPT' AND c.last_value <> (SELECT count(*) FROM payments \
                 WHERE receipt_number LIKE 'RCPT-' || c.year || '-%')",
            ),
            ("a receipt exactly for the captured payments", "SELECT count(*) FROM payments WHERE (status = 'succeeded') <> (receipt_number IS NOT NULL)"),
        ],
        _ => vec![],
    }
}

fn check_invariants(service: &str, url: &str, schema: &str) {
    for (what, query) in invariants(service) {
        let n = sql(url, &format!("SET search_path TO {schema}; {query}"));
        assert_eq!(n.lines().last(), Some("0"), "{service} in {url}: {what} ({n} rows break it)");
    }
}

/// The drill for `service`: see the module's comment.
async fn drill(service: &str) {
    let mut p = Platform::start().await;
    let admin = User::admin();
    let instructor = User::instructor();
    let course = p.publish_course(&instructor, &format!("{} restore drills", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);

    // Flows mid-way: purchases done, a redemption, an enterprise seat.
    let mut done = Vec::new();
    for _ in 0..2 {
        let buyer = User::learner();
        let bought = p.buy(&buyer, &course_id).await;
        done.push(Sale { buyer, purchase: json!({"id": bought.purchase_id, "payment_id": bought.payment_id}) });
    }
    let redeemer = User::learner();
    let catalog = p.get(Some(&redeemer), "/api/tokens/catalog").await;
    let cost =
        catalog.body["data"].as_array().expect("data").iter().find(|i| i["item"] == "pro_month").expect("pro_month")
            ["cost"]
            .as_i64()
            .expect("cost");
    let award = json!({"user_id": redeemer.id, "amount": cost, "reason": "restore drill"});
    assert_eq!(p.post_key(&admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await.status, 201);
    let redeemed =
        p.post_key(&redeemer, "/api/tokens/redeem", json!({"item": "pro_month"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Drill {suffix}"), "domain": format!("drill-{suffix}.example.com")},
        "seats": 2, "tier": "enterprise",
        "starts_at": now - chrono::Duration::hours(1), "expires_at": now + chrono::Duration::days(365),
    });
    let created = p.post_key(&admin, "/api/enterprise/licenses/create", license, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let member = User::learner();
    let seat =
        p.post(&member, "/api/enterprise/licenses/activate", json!({"license_key": created.body["license_key"]})).await;
    assert_eq!(seat.status, 201, "{}", seat.body);

    // Purchases waiting for their payment: paid during the dump, after it, and while the service is down.
    let mut pending = Vec::new();
    for _ in 0..9 {
        let buyer = User::learner();
        let purchase = p.purchase(&buyer, &course_id).await;
        pending.push(Sale { buyer, purchase });
    }

    // The backup, while payments complete.
    let database_url = testkit::database_url();
    let schema = p.env.schema(service);
    let dir = std::env::temp_dir().join(format!("restore-drill-{}", p.env.id));
    let file = dir.join(format!("{service}.dump"));
    let launched = chrono::Utc::now();
    let backup = {
        let (url, schema, file) = (database_url.clone(), schema.clone(), file.display().to_string());
        let service = service.to_string();
        tokio::task::spawn_blocking(move || script("backup.sh", &service, &url, &schema, &[&file]))
    };
    for sale in &pending[..3] {
        p.confirm(&sale.purchase["client_secret"], "pm_card_visa");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let (stdout, stderr) = backup.await.expect("the backup task");
    phase(service, "backed up");
    assert_eq!(stdout.trim(), file.display().to_string(), "{stderr}");
    let snapshot = archive_time(&file);
    assert!(snapshot >= launched - chrono::Duration::seconds(1), "snapshot {snapshot} before {launched}");

    // After the snapshot the live service still applies these: the restore will not have them.
    for sale in &pending[3..6] {
        p.confirm(&sale.purchase["client_secret"], "pm_card_visa");
    }
    for sale in pending[..6].iter().chain(&done) {
        p.wait_owned(&sale.buyer, &course_id).await;
        p.eventually("tokens", || async { (p.balance(&sale.buyer).await > 0).then_some(()) }).await;
    }

    // The disaster: the service's database is gone. Payments keep completing meanwhile.
    let port = p.stop_service(service).await;
    phase(service, "service stopped");
    for sale in &pending[6..] {
        p.confirm(&sale.purchase["client_secret"], "pm_card_visa");
    }
    for sale in &pending[6..] {
        let payment = str_of(&sale.purchase["payment_id"]);
        let id = sale.id();
        // Billing down: Stripe's webhooks fail (stripe-fake gives up after its retries); the
        // restored billing's reconcile job settles those payments from Stripe.
        match service {
            "marketplace" => {
                p.events.wait_for("billing.payment.succeeded.v1", |d| d["payment_id"] == payment.as_str()).await;
            }
            "rewards" => {
                p.events.wait_for("marketplace.course.purchased.v1", |d| d["purchase_id"] == id.as_str()).await;
            }
            _ => {}
        }
    }

    // The restore, into a fresh database.
    let restore_db = RestoreDb::new(&database_url, &format!("restore_{}", p.env.id));
    let restore_url = with_database(&database_url, &restore_db.name);
    let started = Instant::now();
    let (_, stderr) = {
        let (url, schema, file) = (restore_url.clone(), schema.clone(), file.display().to_string());
        let service = service.to_string();
        tokio::task::spawn_blocking(move || {
            script("restore.sh", &service, &url, &schema, &[&file, "--create-database"])
        })
        .await
        .expect("the restore task")
    };
    let restore_time = started.elapsed();
    phase(service, "restored");
    assert!(stderr.contains("the archive is a snapshot of"), "{stderr}");
    check_invariants(service, &restore_url, &schema);
    let rows = sql(
        &restore_url,
        &format!("SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables WHERE schemaname = '{schema}'"),
    );
    eprintln!("restore drill: {service}: {rows} rows restored in {restore_time:?} (script: {stderr})");

    // The service on the restored schema, then what it consumed after the snapshot, replayed.
    p.start_service_on(service, &restore_url, port).await;
    phase(service, "service started on the restored schema");
    let since = snapshot - chrono::Duration::minutes(10);
    let topology = p.env.topology();
    for producer in SERVICES.iter().filter(|s| **s != service) {
        let pool = &p.replicas_of(producer)[0].pool;
        events::replay::outbox_to_queue(pool, &testkit::amqp_url(), &topology, producer, service, since)
            .await
            .unwrap_or_else(|e| panic!("replaying {producer}'s outbox to {service}: {e}"));
    }
    phase(service, "outboxes replayed");

    // Every purchase completed once, its buyer's tokens earned once, through the API.
    for sale in done.iter().chain(&pending) {
        let owned = p.wait_owned(&sale.buyer, &course_id).await;
        assert_eq!(owned["purchase"]["id"], sale.id().as_str());
        let earned = p
            .eventually("the buyer's tokens after the restore", || async {
                let earned = p.transactions(&sale.buyer, "earn").await;
                (!earned.is_empty()).then_some(earned)
            })
            .await;
        assert_eq!(earned.len(), 1, "{earned:?}");
        assert_eq!(earned[0]["reference"], sale.id().as_str());
    }
    assert_eq!(p.owned(&done[0].buyer, &course_id).await.len(), 1);
    // The instructor's 70 %, of all eleven sales, once each.
    let earnings = p.get(Some(&instructor), "/api/instructors/me/earnings?limit=100").await;
    assert_eq!(earnings.status, 200, "{}", earnings.body);
    let lines = earnings.body["data"].as_array().expect("data");
    assert_eq!(lines.len(), 11, "{}", earnings.body);
    assert!(lines.iter().all(|l| l["amount"]["amount"] == "14.00"), "{}", earnings.body);
    // The redemption and the seat survived.
    let redemptions = p.transactions(&redeemer, "redeem").await;
    assert_eq!(redemptions.len(), 1, "{redemptions:?}");

    phase(service, "purchases, tokens and earnings checked");
    // The restored outbox drains; its inbox dropped what it had applied before the snapshot.
    let pending_sql = format!("SET search_path TO {schema}; SELECT count(*) FROM outbox WHERE published_at IS NULL");
    p.eventually("the restored outbox drained", || async {
        (sql(&restore_url, &pending_sql).lines().last() == Some("0")).then_some(())
    })
    .await;
    if service != "billing" {
        // Billing consumes nothing in these flows: no copy of an applied event to drop.
        let metrics = p.metrics(service).await;
        let duplicates = counter(&metrics, "monetization_events_consumed_total", &["outcome=\"duplicate\""]);
        assert!(duplicates >= 1.0, "the replay's copies of applied events were not dropped as duplicates:\n{metrics}");
    }
    check_invariants(service, &restore_url, &schema);
    for other in ["rewards", "marketplace", "billing"].into_iter().filter(|s| *s != service) {
        check_invariants(other, &database_url, &p.env.schema(other));
    }

    if service == "billing" {
        // Receipts of payments settled after the snapshot are numbered again, gap-free, by the
        // restored counter: say how many differ from the numbers the lost timeline gave.
        let numbers = |url: &str, schema: &str| {
            sql(
                url,
                &format!("SELECT id || ' ' || receipt_number FROM {schema}.payments WHERE receipt_number IS NOT NULL"),
            )
            .lines()
            .map(String::from)
            .collect::<std::collections::BTreeSet<_>>()
        };
        let (before, after) = (numbers(&database_url, &schema), numbers(&restore_url, &schema));
        eprintln!(
            "restore drill: billing: {} of {} receipt numbers differ after the restore",
            after.difference(&before).count(),
            after.len()
        );
    }

    phase(service, "stopping the platform");
    p.stop().await;
    drop(restore_db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The drill's fresh database, dropped when the drill ends, failed or not.
struct RestoreDb {
    admin_url: String,
    name: String,
}

impl RestoreDb {
    fn new(database_url: &str, name: &str) -> Self {
        Self { admin_url: with_database(database_url, "postgres"), name: name.to_string() }
    }
}

impl Drop for RestoreDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", &self.admin_url, "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .status();
    }
}

/// What the drill has done so far, in the test's output (shown when it fails).
fn phase(service: &str, done: &str) {
    eprintln!("restore drill: {service}: {done}");
}

/// A drill takes seconds alone and a minute or two beside the rest of the suite; one that
/// hangs fails here, its output naming the last phase it finished.
const DRILL_LIMIT: Duration = Duration::from_secs(8 * 60);

async fn bounded_drill(service: &str) {
    if tokio::time::timeout(DRILL_LIMIT, drill(service)).await.is_err() {
        panic!("the {service} restore drill did not finish in {DRILL_LIMIT:?}: its last phase is printed above");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_drill_rewards() {
    bounded_drill("rewards").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_drill_marketplace() {
    bounded_drill("marketplace").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_drill_billing() {
    bounded_drill("billing").await;
}
