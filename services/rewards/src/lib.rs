//! Rewards: reward tokens (an append-only ledger with balances), the earning rules that turn
//! marketplace and subscription events into tokens, redemptions, and leaderboards (global, weekly,
//! friends) with friendships.

pub mod board_snapshots;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod erasure;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod openapi;
pub mod privacy;
pub mod reports;
pub mod routes;
pub mod store;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::clock::{Clock, SystemClock};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;

pub use config::RewardsConfig as Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec =
    ServiceSpec { name: "rewards", migrations: &MIGRATIONS, openapi: <openapi::ApiDoc as utoipa::OpenApi>::openapi };

/// What every handler shares.
pub struct State {
    pub pool: platform::db::Pool,
    pub boards: board_snapshots::BoardSnapshots,
    /// Handles and cursor masks of the leaderboards (keyed by `REWARDS_LEADERBOARD_HANDLE_SECRET`).
    pub pseudonyms: domain::handle::Pseudonyms,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    /// Hashes voucher codes: only their hashes are stored.
    pub codes: platform::code_hash::CodeHasher,
}

pub fn setup(ctx: &Context, config: Config) -> Result<Wiring, String> {
    setup_with_clock(ctx, config, Arc::new(SystemClock))
}

/// [`setup`] with a chosen clock (tests move time with [`platform::clock::ManualClock`]).
pub fn setup_with_clock(ctx: &Context, config: Config, clock: Arc<dyn Clock>) -> Result<Wiring, String> {
    metrics::register(ctx);
    if config.voucher_valid_days < 1 {
        return Err("REWARDS_VOUCHER_VALID_DAYS must be at least 1".into());
    }
    if config.leaderboard_handle_secret.expose().len() < 16 {
        return Err("REWARDS_LEADERBOARD_HANDLE_SECRET must be at least 16 characters".into());
    }
    if config.uses_dev_handle_secret() {
        tracing::warn!(
            "REWARDS_LEADERBOARD_HANDLE_SECRET is not set: leaderboard handles use the published dev-only key; set a secret of your own outside development"
        );
    }
    let codes = platform::code_hash::CodeHasher::new(&config.code_hash_key, config.code_hash_previous_keys.as_ref())
        .map_err(|e| format!("REWARDS_CODE_HASH_KEY: {e}"))?;
    let pseudonyms = domain::handle::Pseudonyms::new(config.leaderboard_handle_secret.expose());
    let boards = board_snapshots::BoardSnapshots::new(
        std::time::Duration::from_millis(config.leaderboard_snapshot_ms),
        pseudonyms.clone(),
    )
    .with_metrics(&ctx.metrics);
    let fold = store::leaderboard::HISTOGRAM_FOLD.spawn(
        ctx.pool.clone(),
        std::time::Duration::from_millis(config.histogram_fold_ms.max(10)),
        ctx.shutdown.clone(),
        ctx.metrics.scheduler(),
    );
    let state = actix_web::web::Data::new(State {
        pool: ctx.pool.clone(),
        boards,
        pseudonyms,
        clock: clock.clone(),
        config,
        codes,
    });
    Ok(Wiring {
        routes: Arc::new(move |cfg| {
            cfg.app_data(state.clone())
                .configure(routes::configure)
                .configure(platform::privacy::routes(state.pool.clone(), privacy::SECTIONS));
        }),
        handler: Some(events::erasure::with_erasure(
            "rewards",
            Some(Arc::new(consumers::Handlers { clock })),
            Arc::new(erasure::RewardsEraser),
        )),
        background: vec![fold],
    })
}
