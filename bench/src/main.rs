//! `bench`: the open-loop load generator behind `make bench` (scripts/bench.sh starts the stack
//! from release binaries and seeds it first). It runs each scenario at a fixed offered rate,
//! measures latency from each request's due time, and prints one table, also written as JSON to
//! `$BENCH_OUT_DIR/<timestamp>.json` and `latest.json`.
//!
//! Usage: `bench [--only a,b] [--duration SECS] [--warmup SECS] [--scale F] [--repeats N]`;
//! `--scale` multiplies every offered rate (a quick smoke run: `--scale 0.1 --duration 3
//! --repeats 1`). Every scenario runs `--repeats` times (3 by default, `BENCH_REPEATS`), in
//! interleaved rounds; the table shows medians. The pgbench baseline runs its repeats back to back
//! in the first round, so the money writes can be offered 40 % of its median rate
//! (`BENCH_WRITE_RATE=auto`, the default), the rate the table's `vs pg` column divides by; or a
//! fixed rate.

mod cpu;
mod drain;
mod hist;
mod ids;
mod load;
mod pgbench;
mod report;
mod scenarios;

use bench::auth;
use bench::awarded::Awarded;
use load::{Phases, Plan};
use scenarios::{Ctx, Group, Kind, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Options {
    only: Option<Vec<String>>,
    duration: Duration,
    warmup: Duration,
    scale: f64,
    repeats: usize,
    /// `None`: 40 % of the pgbench baseline (when it runs first), else each scenario's own rate.
    write_rate: Option<f64>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

fn options() -> Result<Options, String> {
    let secs = |v: &str| v.parse::<f64>().map(Duration::from_secs_f64).map_err(|_| format!("not seconds: {v}"));
    let mut o = Options {
        only: None,
        duration: secs(&env_or("BENCH_DURATION", "15"))?,
        warmup: secs(&env_or("BENCH_WARMUP", "2"))?,
        scale: env_or("BENCH_SCALE", "1").parse().map_err(|_| "BENCH_SCALE: not a number")?,
        repeats: env_or("BENCH_REPEATS", "3").parse().map_err(|_| "BENCH_REPEATS: not a number")?,
        write_rate: match env_or("BENCH_WRITE_RATE", "auto").as_str() {
            "auto" => None,
            rate => Some(rate.parse().map_err(|_| "BENCH_WRITE_RATE: auto or operations per second")?),
        },
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--only" => o.only = Some(value.split(',').map(str::to_string).collect()),
            "--duration" => o.duration = secs(value)?,
            "--warmup" => o.warmup = secs(value)?,
            "--scale" => o.scale = value.parse().map_err(|_| "--scale: not a number")?,
            "--repeats" => o.repeats = value.parse().map_err(|_| "--repeats: not a number")?,
            other => return Err(format!("unknown flag {other}; see the top of bench/src/main.rs")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(opts: Options) -> Result<(), String> {
    let bare_port: u16 = env_or("BENCH_BARE_PORT", "18099").parse().map_err(|_| "BENCH_BARE_PORT")?;
    spawn_bare_server(bare_port)?;
    if let Ok(port) = std::env::var("BENCH_OTLP_SINK_PORT") {
        spawn_otlp_sink(port.parse().map_err(|_| "BENCH_OTLP_SINK_PORT")?)?;
    }
    let key_file = env_or("BENCH_JWT_KEY_FILE", "deploy/dev-keys/dev-jwt-eddsa.key.pem");
    let pem = std::fs::read(&key_file).map_err(|e| format!("{key_file}: {e}"))?;
    let minter = auth::Minter::new(
        &pem,
        &env_or("GATEWAY_JWT_ISSUER", "https://auth.dev.local"),
        &env_or("GATEWAY_JWT_AUDIENCE", "monetization-api"),
        &env_or("DEV_INTERNAL_TOKEN_SECRET", "dev-only-internal-token-secret-change-me"),
    )?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2048)
        // Below the servers' 5 s keep-alive: a connection idle between scenarios is dropped here
        // first, instead of being reused at the instant the server closes it (an `io` error).
        .pool_idle_timeout(Duration::from_secs(4))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Ctx {
        http,
        gateway: env_or("BENCH_GATEWAY_URL", "http://127.0.0.1:8080"),
        rewards: env_or("BENCH_REWARDS_URL", "http://127.0.0.1:8084"),
        stripe: env_or("BENCH_STRIPE_URL", "http://127.0.0.1:12111"),
        bare: format!("http://127.0.0.1:{bare_port}"),
        minter,
        phases: Phases::default(),
        awarded: Awarded::listen(
            &env_or("DEV_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            &env_or("REWARDS_EVENTS_EXCHANGE", "bench.events"),
        )
        .await?,
    });
    let run_dir = PathBuf::from(env_or("BENCH_RUN_DIR", ".run"));
    let sampler = Arc::new(cpu::Sampler::new(&run_dir, &env_or("BENCH_DATABASE", "bench")));
    eprintln!("bench: measuring CPU of {:?} + postgres, rabbitmq, bench", sampler.found());

    let plan: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| opts.only.as_ref().is_none_or(|only| only.iter().any(|o| o == s.name)))
        .collect();
    if let Some(only) = &opts.only {
        let known: Vec<&str> = scenarios::all().iter().map(|s| s.name).collect();
        if let Some(unknown) = only.iter().find(|o| !known.contains(&o.as_str())) {
            return Err(format!("unknown scenario {unknown}; known: {}", known.join(", ")));
        }
    }
    wait_until_up(&ctx).await?;
    // A database reused from earlier runs (BENCH_RESEED=0) holds their buyers' purchases and
    // seats: each run's operations start at indexes of their own so "fresh" users stay fresh.
    let run_base = env_or("BENCH_RUN_NUMBER", "0").parse::<u64>().map_err(|_| "BENCH_RUN_NUMBER: not a number")?
        * scenarios::RUN_STRIDE;
    preflight(&ctx, &plan, run_base).await?;

    let machine = report::Machine::read();
    let baseline = Arc::new(pgbench::Baseline::from_env(&env_or("BENCH_DATABASE", "bench")));
    let mut write_rate = opts.write_rate;
    let mut runs: Vec<Vec<report::Row>> = plan.iter().map(|_| Vec::new()).collect();
    let settle_limit =
        Duration::from_secs(env_or("BENCH_SETTLE_SECS", "120").parse().map_err(|_| "BENCH_SETTLE_SECS")?);
    for round in 0..opts.repeats.max(1) {
        for (k, s) in plan.iter().enumerate() {
            // The baseline's repeats all run in the first round: the write rate derives from their
            // median before any write scenario runs.
            let times = match (s.kind, round) {
                (Kind::PgBaseline, 0) => opts.repeats.max(1),
                (Kind::PgBaseline, _) => 0,
                _ => 1,
            };
            for _ in 0..times {
                // The previous scenario's outbox rows and queued events first, so their CPU is not
                // counted against this one's operations.
                let (url, prefix) = (baseline.database_url.clone(), env_or("BENCH_QUEUE_PREFIX", "bench."));
                // BENCH_VACUUM=0: measure on the dead rows of the scenarios before (how every run
                // before round 11 measured), to compare with.
                let vacuum = env_or("BENCH_VACUUM", "auto") != "0";
                let (waited, left, vacuumed) = tokio::task::spawn_blocking(move || {
                    let (waited, left) = drain::settle(&url, &prefix, settle_limit);
                    let vacuumed = match vacuum {
                        true => drain::vacuum_if_autovacuum_off(&url),
                        false => None,
                    };
                    (waited, left, vacuumed)
                })
                .await
                .map_err(|e| e.to_string())?;
                if let Some(took) = vacuumed.filter(|t| *t >= Duration::from_secs(1)) {
                    eprintln!(
                        "bench: vacuumed the database in {:.1} s (the server runs without autovacuum)",
                        took.as_secs_f64()
                    );
                }
                match left {
                    Some(0) if waited >= Duration::from_secs(1) => {
                        eprintln!(
                            "bench: waited {:.1} s for the previous scenario's events to be delivered",
                            waited.as_secs_f64()
                        )
                    }
                    Some(n) if n > 0 => eprintln!(
                        "bench: {n} events still undelivered after {:.0} s (BENCH_SETTLE_SECS); measuring {} anyway",
                        waited.as_secs_f64(),
                        s.name
                    ),
                    _ => {}
                }
                let loadavg_before = report::loadavg();
                let before = Arc::new(Mutex::new(None));
                let (mark, probe) = (before.clone(), sampler.clone());
                let mark_start = move || {
                    *mark.lock().unwrap_or_else(|e| e.into_inner()) = Some(probe.snapshot());
                };
                let (rate, mut measured) = if s.kind == Kind::PgBaseline {
                    eprintln!(
                        "bench: {} round {} ({} clients) for {:?}",
                        s.name,
                        round + 1,
                        baseline.clients,
                        opts.duration
                    );
                    let (b, warmup, duration) = (baseline.clone(), opts.warmup, opts.duration);
                    let measured = tokio::task::spawn_blocking(move || b.run(warmup, duration, mark_start))
                        .await
                        .map_err(|e| e.to_string())??;
                    (0.0, measured)
                } else {
                    let rate = match (s.group, write_rate) {
                        (Group::Write, Some(w)) => w,
                        _ => s.rate,
                    } * opts.scale;
                    let plan = Plan {
                        rate,
                        warmup: opts.warmup,
                        duration: opts.duration,
                        max_in_flight: 1024,
                        max_backlog: Duration::from_secs(2),
                    };
                    let total = ((opts.warmup + opts.duration).as_secs_f64() * rate).round() as u64;
                    // Each round acts on indexes of its own: fresh buyers and seat holders stay fresh.
                    let first = run_base + s.first + round as u64 * (total + 1);
                    ctx.minter.warm(scenarios::users(s.kind, first..first + total), "learner")?;
                    eprintln!(
                        "bench: {} round {} at {rate:.0}/s for {:?} (+{:?} warm-up)",
                        s.name,
                        round + 1,
                        opts.duration,
                        opts.warmup
                    );
                    let (kind, c) = (s.kind, ctx.clone());
                    (rate, load::run(&plan, move |i| scenarios::op(&c, kind, first + i), mark_start).await)
                };
                let after = sampler.snapshot();
                let before = before.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
                let cpu = match s.kind {
                    Kind::PgBaseline => cpu::delta_with_exited(&before, &after),
                    _ => cpu::delta(&before, &after),
                };
                let row = report::Row::new(s, rate, &mut measured, cpu, ctx.phases.take(), loadavg_before);
                runs[k].push(row);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if s.kind == Kind::PgBaseline && times > 0 && write_rate.is_none() {
                // The target of issue 22: money writes at 40 % of what the database alone sustains.
                let median = report::median(runs[k].iter().map(|r| r.achieved).collect());
                if median > 0.0 {
                    write_rate = Some((0.4 * median).round());
                    eprintln!(
                        "bench: money writes offered {:.0}/s (40 % of pg-redeem's median, {median:.0}/s)",
                        0.4 * median
                    );
                }
            }
        }
    }
    let rows: Vec<report::Row> = runs.into_iter().filter_map(report::Row::median).collect();
    let report = report::Report::new(machine, &opts_json(&opts), rows);
    println!("{}", report.table());
    let out_dir = PathBuf::from(env_or("BENCH_OUT_DIR", "target/bench"));
    let written = report.write(&out_dir)?;
    eprintln!("bench: wrote {} and latest.json", written.display());
    Ok(())
}

fn opts_json(o: &Options) -> serde_json::Value {
    serde_json::json!({
        "duration_s": o.duration.as_secs_f64(),
        "warmup_s": o.warmup.as_secs_f64(),
        "scale": o.scale,
        "repeats": o.repeats,
        "write_rate": o.write_rate,
        "only": o.only,
    })
}

async fn wait_until_up(ctx: &Ctx) -> Result<(), String> {
    for _ in 0..100 {
        let bare = ctx.http.get(format!("{}/bare", ctx.bare)).send().await.is_ok_and(|r| r.status().is_success());
        let gateway =
            ctx.http.get(format!("{}/health/ready", ctx.gateway)).send().await.is_ok_and(|r| r.status().is_success());
        if bare && gateway {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the gateway ({}) or the bare server is not ready", ctx.gateway))
}

/// One operation of each scenario, on ids the runs never use, so a seed or auth mismatch fails
/// in a second with its reason instead of as a table full of errors.
async fn preflight(ctx: &Arc<Ctx>, plan: &[Scenario], run_base: u64) -> Result<(), String> {
    let unused = run_base + 1_000_000;
    let mut failed = Vec::new();
    let mut tried = Vec::new();
    for s in plan {
        // One try per kind: a second flow with the same index would find the course owned (409).
        if tried.contains(&s.kind) || s.kind == Kind::PgBaseline {
            continue;
        }
        tried.push(s.kind);
        if let Err(e) = scenarios::op(ctx, s.kind, unused).await {
            failed.push(format!("{}: {e}", s.name));
        }
    }
    ctx.phases.take();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("preflight failed (is the stack up and seeded?): {}", failed.join("; ")))
    }
}

/// The machine's ceiling: the smallest actix-web app that answers JSON, on its own two workers.
fn spawn_bare_server(port: u16) -> Result<(), String> {
    use actix_web::{web, App, HttpResponse};
    async fn bare() -> HttpResponse {
        HttpResponse::Ok().json(serde_json::json!({
            "user_id": "00000000-0000-0000-0000-000000000001",
            "balance": 100000, "spendable": 100000, "lifetime_earned": 50000,
        }))
    }
    spawn_server("bare server", port, 2, || App::new().route("/bare", web::get().to(bare)))
}

/// Where the stack exports its spans (`BENCH_INSTRUMENTATION=on`): accepts every OTLP/HTTP export
/// and drops it, so the services pay the whole cost of exporting and the collector's own work
/// stays out of the stack's CPU.
fn spawn_otlp_sink(port: u16) -> Result<(), String> {
    use actix_web::{web, App, HttpResponse};
    async fn accept(_body: web::Bytes) -> HttpResponse {
        HttpResponse::Ok().content_type("application/x-protobuf").finish()
    }
    spawn_server("OTLP sink", port, 1, || {
        App::new().app_data(web::PayloadConfig::new(64 * 1024 * 1024)).route("/v1/traces", web::post().to(accept))
    })
}

/// An actix server on a thread and runtime of its own, for the bench's whole run.
fn spawn_server<F, A>(what: &'static str, port: u16, workers: usize, app: F) -> Result<(), String>
where
    F: Fn() -> actix_web::App<A> + Send + Clone + 'static,
    A: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(app).workers(workers).disable_signals().bind(("127.0.0.1", port));
            match server {
                Ok(server) => {
                    let _ = tx.send(Ok(()));
                    if let Err(e) = server.run().await {
                        eprintln!("bench: {what} stopped: {e}");
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("{what} on port {port}: {e}")));
                }
            }
        });
    });
    rx.recv().map_err(|e| e.to_string())??;
    Ok(())
}
