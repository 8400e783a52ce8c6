//! Scenario B: a rolling restart of every domain service (SIGTERM one replica, wait for it to
//! exit, start it, wait until ready, then the next) under a steady open-loop load through the
//! gateway. Every request is sent once, never retried by the client: any answer other than the
//! expected 2xx counts as a failed request. Purchases made during it are confirmed and join the
//! invariants, so a lost event shows as a purchase without its effects.

use crate::checks::Bought;
use crate::client::{describe, Api};
use crate::stack::{Stack, SERVICES};
use crate::world::ITEM;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub struct Outcome {
    pub bought: Vec<Bought>,
    pub redeemed: Vec<(Uuid, i64)>,
    pub requests: usize,
    /// Failed requests at the gateway, by route and answer: how many, and when the first and
    /// the last were sent (seconds into the scenario, to match with the restarts' timeline).
    pub failed: BTreeMap<String, (usize, f64, f64)>,
    pub elapsed: Duration,
    /// Every request's time to its answer, sorted.
    pub latencies: Vec<Duration>,
    /// Per replica: SIGTERM-to-exit and start-to-ready.
    pub timeline: Vec<String>,
}

impl Outcome {
    pub fn failed_total(&self) -> usize {
        self.failed.values().map(|(n, _, _)| n).sum()
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(0.001)
    }

    /// The latency at quantile `q` (0.5, 0.99, 1.0 = the slowest).
    pub fn latency(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        self.latencies[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]
    }
}

/// One read per service, in turn: every service is under load when its turn comes.
const READS: [&str; 5] = [
    "/api/tokens/balance",
    "/api/courses/list?limit=20",
    "/api/features/certificates",
    "/api/payments/history",
    "/api/enterprise/licenses/public-key",
];

struct Shared {
    api: Arc<Api>,
    courses: Vec<String>,
    /// Each redeemer's tokens pay for `each` redemptions; slot k is redeemer k / each.
    redeemers: Vec<Uuid>,
    each: usize,
    next_redemption: AtomicUsize,
    requests: AtomicUsize,
    failed: Mutex<BTreeMap<String, (usize, f64, f64)>>,
    latencies: Mutex<Vec<Duration>>,
    t0: Instant,
    bought: Mutex<Vec<Bought>>,
    redeemed: Mutex<BTreeMap<Uuid, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn answered(&self, sent: Instant) {
        lock(&self.latencies).push(sent.elapsed());
    }

    fn fail(&self, what: &str, why: String, sent: Instant) {
        let at = sent.saturating_duration_since(self.t0).as_secs_f64();
        let mut failed = lock(&self.failed);
        let entry = failed.entry(format!("{what}: {why}")).or_insert((0, at, at));
        entry.0 += 1;
        entry.1 = entry.1.min(at);
        entry.2 = entry.2.max(at);
    }

    /// Operation k of the load: mostly reads, every tenth a purchase, every tenth a redemption.
    async fn op(self: Arc<Self>, k: usize) {
        let api = &self.api;
        let sent = Instant::now();
        match k % 10 {
            0 => {
                let buyer = Uuid::new_v4();
                let course = self.courses[(k / 10) % self.courses.len()].clone();
                let key = Uuid::new_v4().to_string();
                self.requests.fetch_add(1, Ordering::Relaxed);
                let res = api
                    .once(buyer, "learner", "/api/courses/purchase", Some((&json!({"course_id": course}), &key)))
                    .await;
                self.answered(sent);
                match &res {
                    Ok(a) if a.status == 201 => {
                        let confirmed = api.confirm(&a.body["client_secret"]).await;
                        match (a.body["id"].as_str(), confirmed) {
                            (Some(id), Ok(intent)) => {
                                lock(&self.bought).push(Bought { buyer, course, purchase_id: id.into(), intent });
                            }
                            (_, Err(e)) => self.fail("confirm at stripe-fake (not the gateway)", e, sent),
                            (None, _) => self.fail("POST /api/courses/purchase", "no id".into(), sent),
                        }
                    }
                    _ => self.fail("POST /api/courses/purchase", describe(&res), sent),
                }
            }
            5 => {
                let slot = self.next_redemption.fetch_add(1, Ordering::Relaxed);
                let Some(user) = self.redeemers.get(slot / self.each.max(1)).copied() else {
                    return self.read(k).await;
                };
                self.requests.fetch_add(1, Ordering::Relaxed);
                let key = Uuid::new_v4().to_string();
                let res = api.once(user, "learner", "/api/tokens/redeem", Some((&json!({"item": ITEM}), &key))).await;
                self.answered(sent);
                match &res {
                    Ok(a) if a.status == 201 => *lock(&self.redeemed).entry(user).or_default() += 1,
                    _ => self.fail("POST /api/tokens/redeem", describe(&res), sent),
                }
            }
            _ => self.read(k).await,
        }
    }

    async fn read(&self, k: usize) {
        let path = READS[k % READS.len()];
        let user = self.redeemers.get(k % self.redeemers.len().max(1)).copied().unwrap_or_else(Uuid::new_v4);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let res = self.api.once(user, "learner", path, None).await;
        self.answered(sent);
        if !res.as_ref().is_ok_and(|a| a.status == 200) {
            self.fail(&format!("GET {}", path.split('?').next().unwrap_or(path)), describe(&res), sent);
        }
    }
}

/// Load at `rate` requests per second for as long as the rolling restart takes (plus a second
/// before and after).
pub async fn run(
    api: Arc<Api>,
    stack: &mut Stack,
    courses: &[String],
    redeemers: &[Uuid],
    each: usize,
    rate: f64,
) -> Result<Outcome, String> {
    let shared = Arc::new(Shared {
        api: api.clone(),
        courses: courses.to_vec(),
        redeemers: redeemers.to_vec(),
        each,
        next_redemption: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        failed: Mutex::new(BTreeMap::new()),
        latencies: Mutex::new(Vec::new()),
        t0: Instant::now(),
        bought: Mutex::new(Vec::new()),
        redeemed: Mutex::new(redeemers.iter().map(|u| (*u, 0)).collect()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = shared.t0;
    let load = {
        let (shared, stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep_until((t0 + Duration::from_secs_f64(k as f64 / rate)).into()).await;
                tasks.push(tokio::spawn(shared.clone().op(k)));
                k += 1;
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut timeline = Vec::new();
    let result = restart_all(stack, &api.http, t0, &mut timeline).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    load.await.map_err(|e| format!("the load: {e}"))?;
    result?;

    let bought = std::mem::take(&mut *lock(&shared.bought));
    let redeemed = std::mem::take(&mut *lock(&shared.redeemed)).into_iter().collect();
    let failed = std::mem::take(&mut *lock(&shared.failed));
    let mut latencies = std::mem::take(&mut *lock(&shared.latencies));
    latencies.sort();
    let requests = shared.requests.load(Ordering::Relaxed);
    Ok(Outcome { bought, redeemed, requests, failed, elapsed, latencies, timeline })
}

async fn restart_all(
    stack: &mut Stack,
    http: &reqwest::Client,
    t0: Instant,
    log: &mut Vec<String>,
) -> Result<(), String> {
    for s in SERVICES {
        for p in stack.replicas.get_mut(s).ok_or("no such service")?.iter_mut() {
            let at = t0.elapsed();
            let drained = p.terminate().await?;
            p.start()?;
            let ready = p.wait_ready(http).await?;
            log.push(format!(
                "{:>5.1} s  {}: SIGTERM -> exit {:.2} s, start -> ready {:.2} s",
                at.as_secs_f64(),
                p.name,
                drained.as_secs_f64(),
                ready.as_secs_f64()
            ));
        }
    }
    Ok(())
}
