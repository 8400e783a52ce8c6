//! What must hold after the faults, read where the truth is: each service's schema (with psql,
//! straight from PostgreSQL, not through the services under test), Stripe's side (the fake's
//! object lists), and the broker's queues. Every check runs and reports; the run fails if any
//! failed.

use crate::client::Api;
use crate::stack::SERVICES;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use testkit::TestEnv;
use tokio::process::Command;
use uuid::Uuid;

/// A purchase the client completed on its side: created (201 or a replay), then confirmed.
#[derive(Clone)]
pub struct Bought {
    pub buyer: Uuid,
    pub course: String,
    pub purchase_id: String,
    pub intent: String,
}

/// What the client did, all scenarios so far: the state every check compares with.
#[derive(Default)]
pub struct Expected {
    pub bought: Vec<Bought>,
    /// Each redeemer and the redemptions it got a 2xx for (one per Idempotency-Key).
    pub redeemed: Vec<(Uuid, i64)>,
}

pub struct Db {
    url: String,
    env: TestEnv,
}

/// A SQL array literal of ids, compared as text (references are TEXT columns, and a cast of
/// every row to uuid would fail on the first reference that is not one).
fn text_array(ids: impl IntoIterator<Item = String>) -> String {
    format!("'{{{}}}'::text[]", ids.into_iter().collect::<Vec<_>>().join(","))
}

impl Db {
    pub fn new(url: String, env: TestEnv) -> Self {
        Self { url, env }
    }

    /// `{billing}`, `{marketplace}`, ... in `sql` become this run's schema names.
    fn resolve(&self, sql: &str) -> String {
        SERVICES.iter().fold(sql.to_string(), |s, svc| s.replace(&format!("{{{svc}}}"), &self.env.schema(svc)))
    }

    /// One row of numbers.
    pub async fn row(&self, sql: &str) -> Result<Vec<i64>, String> {
        let sql = self.resolve(sql);
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-F", " ", "-v", "ON_ERROR_STOP=1", "-d", &self.url, "-c", &sql])
            .output()
            .await
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(format!("psql failed on {sql}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace().map(|n| n.parse::<i64>().map_err(|_| format!("{sql}: not a number: {n}"))).collect()
    }

    pub async fn one(&self, sql: &str) -> Result<i64, String> {
        self.row(sql).await?.first().copied().ok_or_else(|| format!("{sql}: no row"))
    }

    /// Outbox rows not yet published, over every schema.
    pub async fn outbox_pending(&self) -> Result<i64, String> {
        let mut total = 0;
        for s in SERVICES {
            total += self.one(&format!("SELECT count(*) FROM {{{s}}}.outbox WHERE published_at IS NULL")).await?;
        }
        Ok(total)
    }
}

/// Messages waiting in each service's queue and dead-letter queue (None: it has no queue).
pub async fn queue_depths(env: &TestEnv) -> Vec<(String, Option<u32>)> {
    let topo = env.topology();
    let mut out = Vec::new();
    for s in SERVICES {
        for q in [topo.queue(s), topo.dead_letter_queue(s)] {
            let depth = testkit::bus::queue_depth(&q).await;
            out.push((q, depth));
        }
    }
    out
}

/// Wait until every confirmed purchase completed and earned its tokens, every outbox is empty and
/// every queue drained: the system has finished what the client started.
pub async fn settle(db: &Db, env: &TestEnv, expected: &Expected, within: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let ids = text_array(expected.bought.iter().map(|b| b.purchase_id.clone()));
    let mut last = String::new();
    while started.elapsed() < within {
        let completed = db
            .one(&format!(
                "SELECT count(*) FROM {{marketplace}}.purchases WHERE status = 'completed' AND id::text = ANY({ids})"
            ))
            .await?;
        let credited = db
            .one(&format!(
                "SELECT count(DISTINCT reference) FROM {{rewards}}.token_transactions \
                 WHERE source = 'marketplace.course.purchased.v1' AND reference = ANY({ids})"
            ))
            .await?;
        let pending = db.outbox_pending().await?;
        let queued: u32 = queue_depths(env).await.iter().filter_map(|(_, d)| *d).sum();
        let want = expected.bought.len() as i64;
        if completed == want && credited == want && pending == 0 && queued == 0 {
            return Ok(started.elapsed());
        }
        last =
            format!("{completed}/{want} completed, {credited}/{want} credited, {pending} outbox rows, {queued} queued");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(format!("not settled within {within:?}: {last}"))
}

/// One invariant's outcome.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

fn check(name: &'static str, ok: bool, detail: String) -> Check {
    Check { name, ok, detail }
}

fn equal<T: PartialEq + std::fmt::Debug>(name: &'static str, got: T, want: T) -> Check {
    let ok = got == want;
    check(name, ok, if ok { format!("{got:?}") } else { format!("got {got:?}, want {want:?}") })
}

/// Every invariant, for everything the client did so far.
pub async fn run(db: &Db, env: &TestEnv, api: &Api, expected: &Expected) -> Result<Vec<Check>, String> {
    let p = expected.bought.len() as i64;
    let ids = text_array(expected.bought.iter().map(|b| b.purchase_id.clone()));
    let mut out = Vec::new();

    // Marketplace: one completed purchase per buyer (access), and one 70/30 sale line each.
    let row = db
        .row(&format!(
            "SELECT count(*) FILTER (WHERE status = 'completed'), \
                    count(DISTINCT buyer_id) FILTER (WHERE status = 'completed'), \
                    count(*) FILTER (WHERE status = 'completed' AND id::text = ANY({ids})) \
             FROM {{marketplace}}.purchases"
        ))
        .await?;
    out.push(equal("one completed purchase per buyer [completed, buyers, the client's]", row, vec![p, p, p]));
    let row =
        db.row("SELECT count(*), count(DISTINCT purchase_id) FROM {marketplace}.earnings WHERE kind = 'sale'").await?;
    out.push(equal("one instructor sale line per purchase [lines, purchases]", row, vec![p, p]));

    // Billing: one succeeded payment and one charge line per purchase.
    let row = db
        .row(&format!(
            "SELECT count(*), count(DISTINCT reference_id), count(*) FILTER (WHERE reference_id = ANY({ids})) \
             FROM {{billing}}.payments WHERE status = 'succeeded' AND purpose = 'course_purchase'"
        ))
        .await?;
    out.push(equal("one succeeded payment per purchase [payments, purchases, the client's]", row, vec![p, p, p]));
    let lines = db.one("SELECT count(*) FROM {billing}.billing_history WHERE kind = 'charge'").await?;
    out.push(equal("one billing-history charge line per purchase", lines, p));

    // Stripe: one charge per purchase, on the intents the client confirmed.
    let charges = api
        .http
        .get(format!("{}/_fake/charges", api.stripe))
        .send()
        .await
        .map_err(|e| format!("stripe-fake charges: {e}"))?
        .json::<Value>()
        .await
        .map_err(|e| format!("stripe-fake charges: {e}"))?;
    let succeeded: Vec<String> = charges["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "succeeded")
        .filter_map(|c| c["payment_intent"].as_str().map(str::to_string))
        .collect();
    let distinct: BTreeSet<&String> = succeeded.iter().collect();
    let confirmed: BTreeSet<&String> = expected.bought.iter().map(|b| &b.intent).collect();
    out.push(equal(
        "one Stripe charge per purchase [charges, intents charged, = the client's]",
        (succeeded.len() as i64, distinct.len() as i64, distinct == confirmed),
        (p, p, true),
    ));

    // Rewards: one token credit per purchase; no redemption doubled; ledger = balances.
    let row = db
        .row(&format!(
            "SELECT count(*), count(DISTINCT reference), count(*) FILTER (WHERE reference = ANY({ids})) \
             FROM {{rewards}}.token_transactions WHERE source = 'marketplace.course.purchased.v1'"
        ))
        .await?;
    out.push(equal("one token credit per purchase [credits, purchases, the client's]", row, vec![p, p, p]));
    let redeemed: i64 = expected.redeemed.iter().map(|(_, n)| n).sum();
    let users = text_array(expected.redeemed.iter().map(|(u, _)| u.to_string()));
    let per_user = expected.redeemed.iter().map(|(u, n)| format!("('{u}'::uuid, {n})")).collect::<Vec<_>>().join(",");
    let wrong = if per_user.is_empty() {
        0
    } else {
        db.one(&format!(
            "SELECT count(*) FROM (VALUES {per_user}) AS want(user_id, n) \
             WHERE n <> (SELECT count(*) FROM {{rewards}}.redemptions r WHERE r.user_id = want.user_id)"
        ))
        .await?
    };
    let total = db.one("SELECT count(*) FROM {rewards}.redemptions").await?;
    out.push(equal(
        "one redemption per answered Idempotency-Key [redemptions, redeemers off]",
        (total, wrong),
        (redeemed, 0),
    ));
    let vouchers = db.one("SELECT count(*) FROM {rewards}.vouchers").await?;
    out.push(equal("one voucher per redemption", vouchers, redeemed));
    let spent = db
        .one(&format!(
            "SELECT count(*) FROM {{rewards}}.token_balances WHERE user_id::text = ANY({users}) AND balance <> 0"
        ))
        .await?;
    out.push(equal("redeemers spent exactly what they were awarded (balance 0)", spent, 0));
    let off = db
        .one(
            "SELECT count(*) FROM {rewards}.token_balances b \
             FULL JOIN (SELECT user_id, sum(amount) AS total FROM {rewards}.token_transactions GROUP BY user_id) t \
             USING (user_id) WHERE coalesce(b.balance, 0) <> coalesce(t.total, 0)",
        )
        .await?;
    out.push(equal("ledger sums equal balances (users off)", off, 0));

    // Events: nothing stuck in an outbox, nothing dead-lettered, nothing left queued.
    out.push(equal("outboxes empty (unpublished rows)", db.outbox_pending().await?, 0));
    let depths = queue_depths(env).await;
    let dlq: Vec<String> = depths
        .iter()
        .filter(|(q, d)| q.ends_with(".dlq") && d.unwrap_or(0) > 0)
        .map(|(q, d)| format!("{q}: {}", d.unwrap_or(0)))
        .collect();
    out.push(check(
        "dead-letter queues empty",
        dlq.is_empty(),
        if dlq.is_empty() { "0".into() } else { dlq.join(", ") },
    ));

    // Access, as the buyers see it through the gateway.
    let mut missing = Vec::new();
    for b in &expected.bought {
        let mine = api.once(b.buyer, "learner", "/api/courses/mine?limit=100", None).await?;
        let owned = mine.body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["course"]["id"] == b.course.as_str())
            .count();
        if mine.status != 200 || owned != 1 {
            missing.push(format!("{} owns {owned} ({})", b.purchase_id, mine.status));
        }
    }
    out.push(check(
        "every buyer sees the course once in /api/courses/mine",
        missing.is_empty(),
        if missing.is_empty() { format!("{p} buyers") } else { missing.join("; ") },
    ));
    Ok(out)
}

/// Print the checks; true when all passed.
pub fn report(title: &str, checks: &[Check]) -> bool {
    eprintln!("chaos: {title}");
    for c in checks {
        eprintln!("  [{}] {}: {}", if c.ok { " ok " } else { "FAIL" }, c.name, c.detail);
    }
    checks.iter().all(|c| c.ok)
}
