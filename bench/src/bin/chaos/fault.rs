//! Scenario A: a burst of course purchases and token redemptions, each with its own
//! Idempotency-Key and retried by the client with the same key until it gets a final answer; in
//! the middle, `kill -9` of one replica of every service at once, restarted after a moment, then
//! the same for the other replica. The invariants (checks.rs) then say whether anything was lost
//! or done twice.

use crate::checks::Bought;
use crate::client::Api;
use crate::stack::{Stack, SERVICES};
use crate::world::{World, ITEM};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How long a client keeps retrying one request with its key.
const CLIENT_PATIENCE: Duration = Duration::from_secs(90);
/// Between a kill and the restart: long enough that requests and deliveries in flight fail over.
const DOWN_FOR: Duration = Duration::from_secs(1);

pub struct Outcome {
    pub bought: Vec<Bought>,
    pub redeemed: Vec<(Uuid, i64)>,
    /// Operations that never got a 2xx (a refusal, or no answer within the client's patience).
    pub failures: Vec<String>,
    pub operations: usize,
    /// Attempts the clients had to send again.
    pub retries: u64,
    /// What was killed when, and how long each replica took to be ready again.
    pub timeline: Vec<String>,
    pub elapsed: Duration,
}

enum Op {
    Purchase { buyer: Uuid, course: String },
    Redeem { user: Uuid },
}

enum Done {
    Bought(Bought),
    Redeemed(Uuid),
}

async fn perform(api: Arc<Api>, op: Op) -> Result<Done, String> {
    match op {
        Op::Purchase { buyer, course } => {
            let key = Uuid::new_v4().to_string();
            let body = json!({ "course_id": course });
            let p =
                api.post_until_done(buyer, "learner", "/api/courses/purchase", &body, &key, CLIENT_PATIENCE).await?;
            let purchase_id = p["id"].as_str().ok_or_else(|| format!("purchase without id: {p}"))?.to_string();
            let intent = api.confirm(&p["client_secret"]).await?;
            Ok(Done::Bought(Bought { buyer, course, purchase_id, intent }))
        }
        Op::Redeem { user } => {
            let key = Uuid::new_v4().to_string();
            let body = json!({ "item": ITEM });
            api.post_until_done(user, "learner", "/api/tokens/redeem", &body, &key, CLIENT_PATIENCE).await?;
            Ok(Done::Redeemed(user))
        }
    }
}

/// Kill replica `r` of every service, wait [`DOWN_FOR`], start them again and wait until ready.
async fn kill_round(
    stack: &mut Stack,
    http: &reqwest::Client,
    r: usize,
    t0: Instant,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let at = t0.elapsed();
    for s in SERVICES {
        let p = &mut stack.replicas.get_mut(s).ok_or("no such service")?[r];
        p.kill9().await?;
    }
    log.push(format!("{:>5.1} s  kill -9 {}", at.as_secs_f64(), names(stack, r)));
    tokio::time::sleep(DOWN_FOR).await;
    let restarted = t0.elapsed();
    for s in SERVICES {
        stack.replicas.get_mut(s).ok_or("no such service")?[r].start()?;
    }
    let mut ready = Vec::new();
    for s in SERVICES {
        let p = &mut stack.replicas.get_mut(s).ok_or("no such service")?[r];
        let took = p.wait_ready(http).await?;
        ready.push(format!("{} {:.2} s", p.name, took.as_secs_f64()));
    }
    log.push(format!("{:>5.1} s  restarted; ready after: {}", restarted.as_secs_f64(), ready.join(", ")));
    Ok(())
}

fn names(stack: &Stack, r: usize) -> String {
    SERVICES.iter().map(|s| stack.replicas[s][r].name.as_str()).collect::<Vec<_>>().join(", ")
}

/// `buyers` purchases (one fresh buyer each) and every redeemer's redemptions, spread evenly over
/// `window`; replica 1 of every service is killed at 20% of it, replica 2 at 55%.
pub async fn run(
    api: Arc<Api>,
    stack: &mut Stack,
    world: &World,
    buyers: usize,
    window: Duration,
) -> Result<Outcome, String> {
    let mut ops = Vec::new();
    let redemptions: Vec<Uuid> =
        world.redeemers.iter().flat_map(|u| std::iter::repeat_n(*u, world.redemptions_each as usize)).collect();
    // Interleaved, so both kinds are in flight at every kill.
    let (mut purchases, mut redeems) = ((0..buyers).peekable(), redemptions.into_iter().peekable());
    while purchases.peek().is_some() || redeems.peek().is_some() {
        if let Some(i) = purchases.next() {
            ops.push(Op::Purchase { buyer: Uuid::new_v4(), course: world.courses[i % world.courses.len()].clone() });
        }
        if let Some(user) = redeems.next() {
            ops.push(Op::Redeem { user });
        }
    }
    let operations = ops.len();
    let t0 = Instant::now();
    let gap = window / operations.max(1) as u32;
    let api_for_ops = api.clone();
    let driver: JoinHandle<Vec<Result<Done, String>>> = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for (k, op) in ops.into_iter().enumerate() {
            tokio::time::sleep_until((t0 + gap * k as u32).into()).await;
            tasks.push(tokio::spawn(perform(api_for_ops.clone(), op)));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap_or_else(|e| Err(format!("task: {e}"))));
        }
        results
    });

    let mut timeline = Vec::new();
    for (r, at) in [(0, 0.20), (1, 0.55)] {
        tokio::time::sleep_until((t0 + window.mul_f64(at)).into()).await;
        kill_round(stack, &api.http, r, t0, &mut timeline).await?;
    }
    let results = driver.await.map_err(|e| format!("the burst: {e}"))?;
    let elapsed = t0.elapsed();

    let mut out = Outcome {
        bought: Vec::new(),
        redeemed: Vec::new(),
        failures: Vec::new(),
        operations,
        retries: api.retries.load(std::sync::atomic::Ordering::Relaxed),
        timeline,
        elapsed,
    };
    let mut per_user: std::collections::BTreeMap<Uuid, i64> = world.redeemers.iter().map(|u| (*u, 0)).collect();
    for r in results {
        match r {
            Ok(Done::Bought(b)) => out.bought.push(b),
            Ok(Done::Redeemed(u)) => *per_user.entry(u).or_default() += 1,
            Err(e) => out.failures.push(e),
        }
    }
    out.redeemed = per_user.into_iter().collect();
    Ok(out)
}
