//! Webhooks: signed outgoing HTTP webhooks to API clients (issue 23). A service of its own, not a
//! part of billing or the gateway: it calls URLs that customers choose, which is an SSRF and
//! failure-isolation concern that must not share a process, a pool or secrets with billing's
//! Stripe keys, and it scales with partners' latency, not with payments. It consumes every
//! event of the bus (no second source of truth), keeps one delivery per (event, endpoint) and
//! sends them signed in the Standard Webhooks format, with retries, a log and replays.

pub mod config;
pub mod consumers;
pub mod dispatcher;
pub mod domain;
pub mod erasure;
pub mod error;
pub mod guard;
pub mod metrics;
pub mod openapi;
pub mod privacy;
pub mod routes;
pub mod sealing;
pub mod store;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::clock::{SharedClock, SystemClock};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;
use std::time::Duration;

pub use config::WebhooksConfig as Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec =
    ServiceSpec { name: "webhooks", migrations: &MIGRATIONS, openapi: <openapi::ApiDoc as utoipa::OpenApi>::openapi };

/// What every handler shares.
pub struct State {
    pub pool: platform::db::Pool,
    pub sealer: Arc<sealing::Sealer>,
    pub allow: Arc<domain::ssrf::Allowlist>,
    pub clock: SharedClock,
    pub config: Config,
}

pub fn setup(ctx: &Context, config: Config) -> Result<Wiring, String> {
    setup_with_clock(ctx, config, Arc::new(SystemClock))
}

/// [`setup`] with a chosen clock (tests).
pub fn setup_with_clock(ctx: &Context, config: Config, clock: SharedClock) -> Result<Wiring, String> {
    let sealer = Arc::new(sealing::Sealer::new(&config.secret_key).map_err(|e| format!("WEBHOOKS_SECRET_KEY {e}"))?);
    if config.secret_key.expose() == config::DEV_SECRET_KEY {
        tracing::warn!(
            "WEBHOOKS_SECRET_KEY is the published dev-only key; set a secret of your own outside development"
        );
    }
    let allow = Arc::new(
        domain::ssrf::Allowlist::parse(&config.allowed_hosts).map_err(|e| format!("WEBHOOKS_ALLOWED_HOSTS: {e}"))?,
    );
    let schedule = domain::schedule::Schedule::parse(&config.retry_schedule)
        .map_err(|e| format!("WEBHOOKS_RETRY_SCHEDULE: {e}"))?;
    if config.timeout_ms == 0 {
        return Err("WEBHOOKS_TIMEOUT_MS must be at least 1".into());
    }
    if config.dispatch_batch < 1 {
        return Err("WEBHOOKS_DISPATCH_BATCH must be at least 1".into());
    }
    if config.retention_days < 1 {
        return Err("WEBHOOKS_RETENTION_DAYS must be at least 1".into());
    }
    // The log and the payloads (which carry user ids) are not kept forever; deleting an event
    // deletes its deliveries and their attempts (ON DELETE CASCADE).
    ctx.retain(platform::retention::Rule {
        table: "events",
        time_column: "received_at",
        condition: Some(
            "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'pending')",
        ),
        keep: Duration::from_secs(config.retention_days.saturating_mul(24 * 3600)),
    });
    let timeout = Duration::from_millis(config.timeout_ms);
    let metrics = metrics::Metrics::register(&ctx.metrics);
    metrics::register_gauges(ctx);
    let dispatcher = dispatcher::Dispatcher {
        pool: ctx.pool.clone(),
        sealer: sealer.clone(),
        allow: allow.clone(),
        client: guard::client(allow.clone(), timeout)?,
        schedule: schedule.clone(),
        clock: clock.clone(),
        timeout,
        disable_after: chrono::Duration::seconds(i64::try_from(config.disable_after_secs).unwrap_or(i64::MAX / 1000)),
        interval: Duration::from_millis(config.dispatch_interval_ms.max(1)),
        batch: config.dispatch_batch,
        metrics: metrics.clone(),
    };
    let state =
        actix_web::web::Data::new(State { pool: ctx.pool.clone(), sealer, allow, clock: clock.clone(), config });
    let export = platform::privacy::routes(ctx.pool.clone(), privacy::SECTIONS);
    let eraser = Arc::new(erasure::WebhooksEraser { clock: clock.clone() });
    Ok(Wiring {
        routes: Arc::new(move |cfg| {
            cfg.app_data(state.clone()).configure(routes::configure).configure(export.clone());
        }),
        handler: Some(events::erasure::with_erasure(
            "webhooks",
            Some(Arc::new(consumers::Handlers { clock, schedule, metrics })),
            eraser,
        )),
        background: vec![dispatcher.spawn(ctx.shutdown.clone())],
    })
}
