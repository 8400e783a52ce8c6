//! Subscriptions: tiers, each user's subscription and its lifecycle (proration, renewals,
//! dunning), and what a user may use (subscription, enterprise seat or reward month).

pub mod billing;
pub mod charging;
pub mod config;
pub mod consumers;
pub mod coupons;
pub mod domain;
pub mod entitlements;
pub mod erasure;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod privacy;
pub mod reports;
pub mod routes;
pub mod scheduler;
pub mod store;
pub mod test_clocks;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::clock::{SharedClock, SystemClock};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;
use std::time::Duration;

pub use config::SubscriptionsConfig as Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "subscriptions",
    migrations: &MIGRATIONS,
    openapi: <openapi::ApiDoc as utoipa::OpenApi>::openapi,
};

pub struct State {
    pub pool: platform::db::Pool,
    pub billing: billing::BillingClient,
    pub clock: SharedClock,
    pub cache: Arc<entitlements::FeatureCache>,
    pub tier_table: Arc<entitlements::TierTableCache>,
    pub config: Config,
    pub retry_days: Vec<i64>,
    /// Users whose cache entries must go again once the consumer's transaction has committed.
    pub pending_invalidations: std::sync::Mutex<Vec<uuid::Uuid>>,
}

pub fn setup(ctx: &Context, config: Config) -> Result<Wiring, String> {
    setup_with_clock(ctx, config, Arc::new(SystemClock))
}

/// As [`setup`], with the clock the scheduler and handlers read (tests move it).
pub fn setup_with_clock(ctx: &Context, config: Config, clock: SharedClock) -> Result<Wiring, String> {
    metrics::register(ctx);
    let retry_days = config.retry_schedule()?;
    let state = Arc::new(State {
        pool: ctx.pool.clone(),
        billing: billing::BillingClient::new(&config.billing_url, billing::TIMEOUT, ctx.auth.clone())?,
        clock,
        cache: Arc::new(
            entitlements::FeatureCache::new(Duration::from_secs(config.feature_cache_ttl_secs))
                .with_metrics(ctx.metrics.cache("features")),
        ),
        tier_table: Arc::new(entitlements::tier_table_cache().with_metrics(ctx.metrics.cache("tiers"))),
        retry_days,
        config,
        pending_invalidations: std::sync::Mutex::new(Vec::new()),
    });
    let interval = Duration::from_millis(state.config.scheduler_interval_ms);
    let scheduler = scheduler::spawn(state.clone(), interval, ctx.shutdown.clone(), ctx.metrics.scheduler());
    // Other replicas' changes (and operators' SQL) reach the caches through the database.
    let invalidations = platform::invalidation::Listener::new(ctx.pool.clone())
        .cache(entitlements::FEATURES, state.cache.clone())
        .cache(entitlements::TIERS, state.tier_table.clone())
        .with_metrics(&ctx.metrics)
        .spawn(ctx.shutdown.clone());
    let data = actix_web::web::Data::from(state.clone());
    Ok(Wiring {
        routes: Arc::new(move |cfg| {
            cfg.app_data(data.clone())
                .configure(routes::configure)
                .configure(platform::privacy::routes(data.pool.clone(), privacy::SECTIONS));
        }),
        handler: Some(events::erasure::with_erasure(
            "subscriptions",
            Some(Arc::new(consumers::Handler(state.clone()))),
            Arc::new(erasure::SubscriptionsEraser(state)),
        )),
        background: vec![scheduler, invalidations],
    })
}
