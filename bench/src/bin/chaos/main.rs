//! `chaos`: faults at two replicas per service, behind `make chaos` (scripts/chaos.sh sets up the
//! environment `make run` uses and builds the binaries first).
//!
//! It starts stripe-fake, two replicas of each domain service and of webhooks, and the gateway as real processes
//! in a schema, exchange and queue prefix of the run's own, then:
//! - scenario A (fault.rs): a burst of purchases and redemptions retried by the client with the
//!   same Idempotency-Key, while one replica of every service is killed with SIGKILL and restarted,
//!   then the other one;
//! - scenario B (rolling.rs): a rolling restart (SIGTERM, exit, start, ready; one replica at a
//!   time) of every service under a steady load, with zero failed requests allowed;
//!
//! and after each checks (checks.rs) that every purchase completed exactly once (one charge, one
//! access, one token credit), no redemption was doubled, ledger sums equal balances, and no event
//! is left in an outbox or a dead-letter queue. Exit status 0 only when everything held.
//!
//! Knobs (environment): CHAOS_BUYERS (40), CHAOS_REDEEMERS (10) x CHAOS_REDEMPTIONS_EACH (3),
//! CHAOS_WINDOW_SECS (10, scenario A's burst), CHAOS_RATE (25 requests/s, scenario B),
//! CHAOS_BIN_DIR, CHAOS_LOG_DIR (.run/chaos), CHAOS_KEEP=1 (keep the schemas and queues).

mod checks;
mod client;
mod fault;
mod rolling;
mod stack;
mod world;

use bench::auth::Minter;
use checks::{Db, Expected};
use client::Api;
use stack::{Settings, Stack};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::TestEnv;

/// How long the system may take to finish what the client started, after the faults.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

fn number<T: std::str::FromStr>(name: &str, default: &str) -> Result<T, String> {
    env_or(name, default).parse().map_err(|_| format!("{name} is not a number"))
}

struct Knobs {
    buyers: usize,
    redeemers: usize,
    each: i64,
    window: Duration,
    rate: f64,
    keep: bool,
}

fn knobs() -> Result<Knobs, String> {
    Ok(Knobs {
        buyers: number("CHAOS_BUYERS", "40")?,
        redeemers: number("CHAOS_REDEEMERS", "10")?,
        each: number("CHAOS_REDEMPTIONS_EACH", "3")?,
        window: Duration::from_secs_f64(number("CHAOS_WINDOW_SECS", "10")?),
        rate: number("CHAOS_RATE", "25")?,
        keep: env_or("CHAOS_KEEP", "0") == "1",
    })
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Interrupted (Ctrl-C, or `timeout` in scripts/chaos.sh): dropping the run drops the stack,
    // whose processes are killed with it (`kill_on_drop`).
    let interrupted = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run() => r,
            () = interrupted => Err("interrupted".to_string()),
        }
    });
    match outcome {
        Ok(true) => {
            eprintln!("chaos: PASSED");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("chaos: FAILED (see the checks above; process logs under {})", log_dir().display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("chaos: ERROR: {e} (process logs under {})", log_dir().display());
            ExitCode::FAILURE
        }
    }
}

fn log_dir() -> PathBuf {
    PathBuf::from(env_or("CHAOS_LOG_DIR", ".run/chaos"))
}

async fn run() -> Result<bool, String> {
    let k = knobs()?;
    let id = format!("chaos{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let env = TestEnv { exchange: format!("{id}.events"), queue_prefix: format!("{id}."), id };
    let log_dir = log_dir();
    let _ = std::fs::remove_dir_all(&log_dir);
    let target = env_or("CARGO_TARGET_DIR", "target");
    let settings = Settings {
        bin_dir: PathBuf::from(env_or("CHAOS_BIN_DIR", &format!("{target}/debug"))),
        log_dir,
        env: env.clone(),
    };
    let mut stack = Stack::plan(settings)?;
    let pem = std::fs::read(env_or("CHAOS_JWT_KEY_FILE", "deploy/dev-keys/dev-jwt-eddsa.key.pem"))
        .map_err(|e| format!("the dev JWT key: {e}"))?;
    let minter = Minter::new(
        &pem,
        &env_or("GATEWAY_JWT_ISSUER", "https://auth.dev.local"),
        &env_or("GATEWAY_JWT_AUDIENCE", "monetization-api"),
        &env_or("DEV_INTERNAL_TOKEN_SECRET", "dev-only-internal-token-secret-change-me"),
    )?;
    let http = reqwest::Client::builder()
        // Above the gateway's upstream timeout (30 s here, stack.rs).
        .timeout(Duration::from_secs(45))
        .connect_timeout(Duration::from_secs(3))
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(|e| e.to_string())?;
    let api = Arc::new(Api {
        http: http.clone(),
        gateway: stack.gateway.url.clone(),
        stripe: stack.fake.url.clone(),
        minter,
        retries: Default::default(),
    });
    let db = Db::new(testkit::database_url(), env.clone());
    eprintln!("chaos: run {} (schemas t_<service>_{}, queues {}*)", env.id, env.id, env.queue_prefix);

    let started = Instant::now();
    let result = scenarios(&k, &mut stack, &api, &db, &env).await;
    stack.stop().await;
    if k.keep {
        eprintln!("chaos: kept schemas t_<service>_{} and queues {}*", env.id, env.queue_prefix);
    } else {
        env.cleanup(&stack::SERVICES).await;
    }
    eprintln!("chaos: {:.0} s in all", started.elapsed().as_secs_f64());
    result
}

async fn scenarios(k: &Knobs, stack: &mut Stack, api: &Arc<Api>, db: &Db, env: &TestEnv) -> Result<bool, String> {
    let t = Instant::now();
    stack.start(&api.http).await?;
    eprintln!(
        "chaos: stack up in {:.1} s: stripe-fake, 2 x {}, gateway at {}",
        t.elapsed().as_secs_f64(),
        stack::SERVICES.join(", 2 x "),
        stack.gateway.url
    );
    let a_world = world::build(api, 5, k.redeemers, k.each).await?;
    let b_world = world::build(api, 0, k.redeemers, k.each).await?;
    let mut expected = Expected::default();

    eprintln!(
        "chaos: scenario A: {} purchases + {} redemptions over {:?}, kill -9 of every service's replica 1, then replica 2 (load average {})",
        k.buyers,
        k.redeemers as i64 * k.each,
        k.window,
        load_average()
    );
    let a = fault::run(api.clone(), stack, &a_world, k.buyers, k.window).await?;
    for line in &a.timeline {
        eprintln!("  {line}");
    }
    eprintln!(
        "  {} operations in {:.1} s, {} client retries with the same key, {} failed for good",
        a.operations,
        a.elapsed.as_secs_f64(),
        a.retries,
        a.failures.len()
    );
    for f in &a.failures {
        eprintln!("  failed: {f}");
    }
    expected.bought.extend(a.bought.iter().cloned());
    expected.redeemed.extend(a.redeemed.iter().copied());
    let settled = checks::settle(db, env, &expected, SETTLE_WITHIN).await;
    report_settle(&settled);
    let mut ok = a.failures.is_empty() && settled.is_ok();
    ok &= checks::report("scenario A invariants", &checks::run(db, env, api, &expected).await?);

    eprintln!(
        "chaos: scenario B: rolling restart of every service under {} requests/s (load average {})",
        k.rate,
        load_average()
    );
    let b = rolling::run(api.clone(), stack, &a_world.courses, &b_world.redeemers, k.each as usize, k.rate).await?;
    for line in &b.timeline {
        eprintln!("  {line}");
    }
    eprintln!(
        "  {} requests in {:.1} s ({:.1}/s), {} failed at the gateway; {} purchases, {} redemptions; load average {}",
        b.requests,
        b.elapsed.as_secs_f64(),
        b.rate(),
        b.failed_total(),
        b.bought.len(),
        b.redeemed.iter().map(|(_, n)| n).sum::<i64>(),
        load_average()
    );
    eprintln!(
        "  latency through the gateway: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        b.latency(0.5).as_secs_f64() * 1e3,
        b.latency(0.99).as_secs_f64() * 1e3,
        b.latency(1.0).as_secs_f64() * 1e3
    );
    for (what, (n, first, last)) in &b.failed {
        eprintln!("  failed x{n} (sent {first:.1}-{last:.1} s): {what}");
    }
    expected.bought.extend(b.bought.iter().cloned());
    expected.redeemed.extend(b.redeemed.iter().copied());
    let settled = checks::settle(db, env, &expected, SETTLE_WITHIN).await;
    report_settle(&settled);
    ok &= b.failed_total() == 0 && settled.is_ok();
    ok &= checks::report("scenario B invariants (A's and B's effects)", &checks::run(db, env, api, &expected).await?);
    Ok(ok)
}

/// The machine's 1-minute load average: a failure on a starved machine reads differently.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn report_settle(settled: &Result<Duration, String>) {
    match settled {
        Ok(d) => eprintln!(
            "  settled (all effects applied, outboxes and queues empty) {:.1} s after the load",
            d.as_secs_f64()
        ),
        Err(e) => eprintln!("  [FAIL] {e}"),
    }
}
