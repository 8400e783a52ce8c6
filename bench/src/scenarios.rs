//! What each scenario sends. Every builder returns the operation for index i (the runner calls
//! it once per due time); users, courses and licenses come from the seeded ranges in `ids`.

use crate::auth::Minter;
use crate::ids;
use crate::load::{Outcome, Phases};
use bench::awarded::Awarded;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Where things listen, and what every operation shares.
pub struct Ctx {
    pub http: reqwest::Client,
    pub gateway: String,
    pub rewards: String,
    pub stripe: String,
    pub bare: String,
    pub minter: Minter,
    pub phases: Phases,
    /// Credits as rewards announces them: where a flow ends (`awarded`).
    pub awarded: Arc<Awarded>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bare,
    DirectBalance,
    Balance,
    Search,
    Leaderboard,
    Feature,
    Branding,
    Redeem,
    Seat,
    Purchase,
    Flow,
    OutboxLag,
    /// pgbench, not HTTP: the database's own limit for a redemption's rows (bench/src/pgbench.rs).
    PgBaseline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Baseline,
    Read,
    Write,
    Flow,
    Lag,
}

pub struct Scenario {
    pub name: &'static str,
    pub kind: Kind,
    pub group: Group,
    /// Offered operations per second.
    pub rate: f64,
    /// What one operation is, for the report.
    pub what: &'static str,
    /// The index of its first operation: two scenarios of one kind that act as fresh users (the
    /// two flows) must not share them, or the second finds its courses already bought.
    pub first: u64,
}

/// The run, in order: baselines and reads first, then the flow and the lag probe (before the
/// write floods leave consumer backlogs behind), then the money writes.
pub fn all() -> Vec<Scenario> {
    use Group::*;
    use Kind::*;
    let s = |name, kind, group, rate, what| Scenario { name, kind, group, rate, what, first: 0 };
    vec![
        // The database's ceiling for a redemption's durable rows; the writes are reported against it.
        s("pg-redeem", PgBaseline, Baseline, 0.0, "pgbench: a redemption's rows in one statement, one commit"),
        s("bare-actix", Bare, Baseline, 5000.0, "GET a JSON route of an actix server inside the bench (the ceiling)"),
        // The gateway's cost: the same read at the same rate, below saturation, direct and through it.
        s("direct-balance", DirectBalance, Baseline, 1000.0, "GET /api/tokens/balance straight to rewards"),
        s("balance-1k", Balance, Baseline, 1000.0, "GET /api/tokens/balance through the gateway"),
        s("balance", Balance, Read, 5000.0, "GET /api/tokens/balance"),
        s("search", Search, Read, 5000.0, "GET /api/courses/list?q=<topic>&category=<c>&limit=20"),
        s("leaderboard", Leaderboard, Read, 5000.0, "GET /api/leaderboard/global?limit=100 (+ own rank)"),
        s("feature", Feature, Read, 5000.0, "GET /api/features/certificates"),
        s("branding", Branding, Read, 5000.0, "GET /api/enterprise/branding?domain=<d>"),
        // Below saturation first (the chain's own latency), then at the target rate.
        s("flow-20", Kind::Flow, Baseline, 20.0, "the full purchase flow at 20 flows/s"),
        Scenario {
            first: 100_000,
            ..s(
                "flow",
                Kind::Flow,
                Group::Flow,
                100.0,
                "purchase -> confirm (stripe-fake) -> webhook -> ... -> tokens visible",
            )
        },
        s("outbox-lag", OutboxLag, Lag, 50.0, "redeem pro_month -> subscriptions grants Pro (commit to effect)"),
        s("redeem", Redeem, Write, 1000.0, "POST /api/tokens/redeem course_voucher"),
        s("seat", Seat, Write, 1000.0, "POST /api/enterprise/licenses/activate (fresh user, idempotency key)"),
        s("purchase", Purchase, Write, 1000.0, "POST /api/courses/purchase (fresh buyer, paid course)"),
    ]
}

/// A cheap, well-mixed hash (splitmix64) to pick users and courses without a RNG dependency.
pub fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How far apart two runs' operation indexes start (`BENCH_RUN_NUMBER`): more operations than any
/// run offers, so the fresh users of one run (`ids::BUYERS_FROM + index`...) are never another's.
pub const RUN_STRIDE: u64 = 100_000_000;

pub fn active_user(i: u64) -> Uuid {
    ids::user(1 + mix(i) % ids::ACTIVE_USERS)
}

fn redeemer(i: u64) -> Uuid {
    let span = ids::REDEEMERS.end - ids::REDEEMERS.start;
    ids::user(ids::REDEEMERS.start + mix(i ^ 0x5eed) % span)
}

/// Fresh account i of the lag probe: skips multiples of 100 (those have a subscription).
fn probe_user(i: u64) -> Uuid {
    let i = i % 600_000;
    ids::user(ids::PROBE_USERS_FROM - 1 + (i / 99) * 100 + (i % 99) + 1)
}

fn paid_course(i: u64) -> Uuid {
    let mut n = 1 + mix(i ^ 0xc0) % ids::COURSES;
    if !ids::course_is_paid(n) {
        n = if n < ids::COURSES { n + 1 } else { n - 1 };
    }
    ids::course(n)
}

/// The users scenario `kind` will act as for indexes `range` (minted before it starts).
pub fn users(kind: Kind, range: std::ops::Range<u64>) -> Vec<Uuid> {
    match kind {
        Kind::Bare | Kind::DirectBalance | Kind::PgBaseline => Vec::new(),
        Kind::Balance | Kind::Search | Kind::Leaderboard | Kind::Feature | Kind::Branding => {
            (1..=ids::ACTIVE_USERS).map(ids::user).collect()
        }
        Kind::Redeem => range.map(redeemer).collect(),
        Kind::OutboxLag => range.map(probe_user).collect(),
        Kind::Seat => range.map(|i| ids::user(ids::SEAT_USERS_FROM + i)).collect(),
        Kind::Purchase => range.map(|i| ids::user(ids::BUYERS_FROM + i)).collect(),
        Kind::Flow => range.map(|i| ids::user(ids::FLOW_USERS_FROM + i)).collect(),
    }
}

fn classify(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "io".into()
    }
}

/// Send, read the whole body, and demand one of `ok` statuses.
async fn send(req: reqwest::RequestBuilder, ok: &[u16]) -> Result<impl AsRef<[u8]>, String> {
    let res = req.send().await.map_err(|e| classify(&e))?;
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| classify(&e))?;
    if ok.contains(&status) {
        Ok(body)
    } else {
        Err(format!("status {status}"))
    }
}

fn json_of(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|_| "bad json".to_string())
}

fn bearer(ctx: &Ctx, user: Uuid) -> Result<String, String> {
    Ok(format!("Bearer {}", ctx.minter.client(user, "learner")?))
}

/// The operation for index `i` of `kind`.
pub fn op(ctx: &Arc<Ctx>, kind: Kind, i: u64) -> BoxFuture<'static, Outcome> {
    let ctx = ctx.clone();
    async move {
        match kind {
            Kind::Bare => send(ctx.http.get(format!("{}/bare", ctx.bare)), &[200]).await.map(|_| None),
            Kind::DirectBalance => {
                let token = ctx.minter.internal("rewards", active_user(i))?;
                let req = ctx.http.get(format!("{}/api/tokens/balance", ctx.rewards)).header("x-internal-token", token);
                send(req, &[200]).await.map(|_| None)
            }
            Kind::Balance => get(&ctx, active_user(i), "/api/tokens/balance".into()).await,
            Kind::Search => {
                let topic = ids::TOPICS[(mix(i ^ 1) % ids::TOPICS.len() as u64) as usize];
                let category = ids::CATEGORIES[(mix(i ^ 2) % ids::CATEGORIES.len() as u64) as usize];
                get(&ctx, active_user(i), format!("/api/courses/list?q={topic}&category={category}&limit=20")).await
            }
            Kind::Leaderboard => get(&ctx, active_user(i), "/api/leaderboard/global?limit=100".into()).await,
            Kind::Feature => get(&ctx, active_user(i), "/api/features/certificates".into()).await,
            Kind::Branding => {
                let org = 1 + mix(i ^ 3) % ids::ORGS;
                let domain = match ids::custom_domain(org) {
                    Some(custom) if mix(i ^ 4).is_multiple_of(2) => custom,
                    _ => ids::org_domain(org),
                };
                get(&ctx, active_user(i), format!("/api/enterprise/branding?domain={domain}")).await
            }
            Kind::Redeem => redeem(&ctx, redeemer(i), "course_voucher").await.map(|_| None),
            Kind::Seat => {
                let user = ids::user(ids::SEAT_USERS_FROM + i);
                let key = ids::license_key(1 + i % ids::LICENSES);
                let req = ctx
                    .http
                    .post(format!("{}/api/enterprise/licenses/activate", ctx.gateway))
                    .header("authorization", bearer(&ctx, user)?)
                    .header("idempotency-key", Uuid::new_v4().to_string())
                    .json(&json!({ "license_key": key }));
                send(req, &[200, 201]).await.map(|_| None)
            }
            Kind::Purchase => purchase(&ctx, ids::user(ids::BUYERS_FROM + i), paid_course(i)).await.map(|_| None),
            Kind::Flow => flow(&ctx, ids::user(ids::FLOW_USERS_FROM + i), paid_course(i ^ 0xf10)).await,
            Kind::OutboxLag => outbox_lag(&ctx, probe_user(i)).await,
            Kind::PgBaseline => Err("pgbench runs as a process, not per operation".into()),
        }
    }
    .boxed()
}

async fn get(ctx: &Ctx, user: Uuid, path: String) -> Outcome {
    let req = ctx.http.get(format!("{}{path}", ctx.gateway)).header("authorization", bearer(ctx, user)?);
    send(req, &[200]).await.map(|_| None)
}

async fn redeem(ctx: &Ctx, user: Uuid, item: &str) -> Result<Value, String> {
    let req = ctx
        .http
        .post(format!("{}/api/tokens/redeem", ctx.gateway))
        .header("authorization", bearer(ctx, user)?)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({ "item": item }));
    json_of(send(req, &[201]).await?.as_ref())
}

async fn purchase(ctx: &Ctx, user: Uuid, course: Uuid) -> Result<Value, String> {
    let req = ctx
        .http
        .post(format!("{}/api/courses/purchase", ctx.gateway))
        .header("authorization", bearer(ctx, user)?)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({ "course_id": course }));
    json_of(send(req, &[200, 201]).await?.as_ref())
}

/// Poll `check` every `every` until it answers true or `within` passes.
async fn poll<F, Fut>(every: Duration, within: Duration, check: F) -> Result<Instant, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await? {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err("never visible".into());
        }
        tokio::time::sleep(every).await;
    }
}

/// The full purchase: create it, confirm the payment with a test card as the buyer's app would
/// (straight to Stripe, here the fake), and wait until rewards announces the tokens it earns
/// (`awarded`: after their commit, so the balance shows them by then).
/// The runner times it from the due time of the purchase request.
async fn flow(ctx: &Ctx, user: Uuid, course: Uuid) -> Outcome {
    let started = Instant::now();
    let credited = ctx.awarded.expect(user);
    let purchase = purchase(ctx, user, course).await?;
    let secret = purchase["client_secret"].as_str().ok_or("no client_secret")?;
    let intent = secret.split("_secret_").next().unwrap_or_default();
    let purchased = Instant::now();
    ctx.phases.record("purchase", purchased - started);
    let confirm = ctx
        .http
        .post(format!("{}/_fake/payment_intents/{intent}/confirm", ctx.stripe))
        .json(&json!({ "payment_method": "pm_card_visa" }));
    send(confirm, &[200]).await.map_err(|e| format!("confirm {e}"))?;
    let confirmed = Instant::now();
    ctx.phases.record("confirm", confirmed - purchased);
    let seen = tokio::time::timeout(Duration::from_secs(10), credited)
        .await
        .map_err(|_| "never credited".to_string())?
        .map_err(|_| "never credited".to_string())?;
    ctx.phases.record("webhook..tokens", seen.saturating_duration_since(confirmed));
    Ok(None)
}

/// Outbox lag: rewards commits a redemption and its `rewards.tokens.redeemed.v1` outbox row in one
/// transaction and answers; the relay publishes it; subscriptions' consumer grants a month of Pro
/// and drops the user's cached entitlement. Measured from the redemption's answer (the commit is
/// before it) until the feature check says Pro.
async fn outbox_lag(ctx: &Ctx, user: Uuid) -> Outcome {
    let auth = bearer(ctx, user)?;
    let feature = || async {
        let req =
            ctx.http.get(format!("{}/api/features/certificates", ctx.gateway)).header("authorization", auth.as_str());
        Ok::<bool, String>(json_of(send(req, &[200]).await?.as_ref())?["allowed"].as_bool().unwrap_or(false))
    };
    if feature().await? {
        return Err("already pro".into());
    }
    redeem(ctx, user, "pro_month").await?;
    let committed = Instant::now();
    let seen = poll(Duration::from_millis(2), Duration::from_secs(10), feature).await?;
    Ok(Some(seen - committed))
}
