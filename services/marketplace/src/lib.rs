//! Marketplace: courses (upload, catalogue and search), purchases and access, the instructor's
//! revenue share with earnings and payouts, and reviews.

pub mod billing;
pub mod config;
pub mod consumers;
pub mod content;
pub mod domain;
pub mod erasure;
pub mod error;
pub mod expiry;
pub mod metrics;
pub mod openapi;
pub mod privacy;
pub mod promotions;
pub mod purchasing;
pub mod reports;
pub mod rewards;
pub mod routes;
pub mod scheduler;
pub mod store;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;
use std::time::Duration;

pub use config::MarketplaceConfig as Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "marketplace",
    migrations: &MIGRATIONS,
    openapi: <openapi::ApiDoc as utoipa::OpenApi>::openapi,
};

/// What every handler shares.
/// Catalogue pages kept in memory at most (a few MB; the hot queries are far fewer).
const CATALOG_PAGES: usize = 5_000;

pub struct State {
    pub pool: platform::db::Pool,
    pub config: Config,
    pub billing: billing::BillingClient,
    pub rewards: rewards::RewardsClient,
    pub content: content::SharedStore,
    pub clock: platform::clock::SharedClock,
    /// Serialised catalogue pages by query string (`routes::catalog::list`).
    pub catalog: platform::cache::TtlCache<actix_web::web::Bytes>,
}

pub fn setup(ctx: &Context, config: Config) -> Result<Wiring, String> {
    setup_with(ctx, config, Arc::new(platform::clock::SystemClock))
}

/// Same as [`setup`] with a clock of the caller's (tests move it to mature earnings).
pub fn setup_with(ctx: &Context, config: Config, clock: platform::clock::SharedClock) -> Result<Wiring, String> {
    metrics::register(ctx);
    config.check()?;
    let content = content::LocalDir::new(&config.content_dir)
        .map_err(|e| format!("content directory {}: {e}", config.content_dir))?;
    let billing = billing::BillingClient::new(
        &config.billing_url,
        Duration::from_millis(config.billing_timeout_ms),
        ctx.auth.clone(),
    )?;
    let rewards = rewards::RewardsClient::new(
        &config.rewards_url,
        Duration::from_millis(config.rewards_timeout_ms),
        ctx.auth.clone(),
    )?;
    let interval = Duration::from_millis(config.scheduler_interval_ms.max(10));
    let catalog = platform::cache::TtlCache::new(Duration::from_millis(config.catalog_cache_ms), CATALOG_PAGES)
        .with_metrics(ctx.metrics.cache("catalog"));
    let test_clocks = config.test_clocks;
    let state = Arc::new(State {
        pool: ctx.pool.clone(),
        config,
        billing,
        rewards,
        content: Arc::new(content),
        clock,
        catalog,
    });
    let scheduler = scheduler::spawn(state.clone(), interval, ctx.shutdown.clone(), ctx.metrics.scheduler());
    let counts = store::courses::PURCHASE_COUNT_FOLD.spawn(
        ctx.pool.clone(),
        Duration::from_millis(state.config.purchase_count_fold_ms.max(10)),
        ctx.shutdown.clone(),
        ctx.metrics.scheduler(),
    );
    let data = actix_web::web::Data::from(state.clone());
    Ok(Wiring {
        routes: Arc::new(move |cfg| {
            cfg.app_data(data.clone())
                .configure(routes::configure)
                .configure(platform::privacy::routes(data.pool.clone(), privacy::SECTIONS));
        }),
        handler: Some(events::erasure::with_erasure(
            "marketplace",
            events::test_clocks::with_test_clocks(test_clocks, Some(Arc::new(consumers::Handler(state)))),
            Arc::new(erasure::MarketplaceEraser),
        )),
        background: vec![scheduler, counts],
    })
}
