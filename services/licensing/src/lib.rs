//! Licensing: organisations, enterprise licenses and their seats, signed license certificates,
//! white-label branding, seat usage, and support tickets with SLA clocks.

pub mod certificate;
pub mod config;
pub mod core;
pub mod dns;
pub mod domain;
pub mod erasure;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod privacy;
pub mod reports;
pub mod routes;
pub mod scheduler;
pub mod store;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::clock::{Clock, SystemClock};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;

pub use config::LicensingConfig as Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec =
    ServiceSpec { name: "licensing", migrations: &MIGRATIONS, openapi: <openapi::ApiDoc as utoipa::OpenApi>::openapi };

/// What every handler and the scheduler share.
pub struct State {
    pub pool: platform::db::Pool,
    pub config: Config,
    pub signer: certificate::Signer,
    pub clock: Arc<dyn Clock>,
    /// Looks up the TXT records that prove control of a custom domain.
    pub dns: Arc<dyn dns::TxtResolver>,
    /// Hashes license keys: only their hashes are stored.
    pub codes: platform::code_hash::CodeHasher,
    /// The public branding lookup's answers by domain (`routes::organizations::public_branding`).
    pub branding: Arc<platform::cache::TtlCache<routes::organizations::PublicBranding>>,
}

/// The cache name the branding tables' triggers notify (migration `2026-12-18-200001`).
pub const BRANDING_CACHE: &str = "branding";
/// Domains whose branding a replica keeps at most (a full cache is emptied and refilled).
const BRANDING_DOMAINS: usize = 50_000;

pub fn setup(ctx: &Context, config: Config) -> Result<Wiring, String> {
    setup_with_clock(ctx, config, Arc::new(SystemClock))
}

/// [`setup`] with another clock (tests move time with `platform::clock::ManualClock`).
pub fn setup_with_clock(ctx: &Context, config: Config, clock: Arc<dyn Clock>) -> Result<Wiring, String> {
    metrics::register(ctx);
    let signer = certificate::Signer::from_pems(
        &config::unescape_pem(config.certificate_signing_key_pem.expose()),
        &config::unescape_pem(&config.certificate_public_key_pem),
    )?;
    let dns = Arc::new(dns::DnsTxtResolver::new(config.dns_nameservers.as_deref())?);
    let codes = platform::code_hash::CodeHasher::new(&config.code_hash_key, config.code_hash_previous_keys.as_ref())
        .map_err(|e| format!("LICENSING_CODE_HASH_KEY: {e}"))?;
    let test_clocks = config.test_clocks;
    let branding = Arc::new(
        platform::cache::TtlCache::new(std::time::Duration::from_millis(config.branding_cache_ms), BRANDING_DOMAINS)
            .with_metrics(ctx.metrics.cache(BRANDING_CACHE)),
    );
    let state = Arc::new(State { pool: ctx.pool.clone(), config, signer, clock, dns, codes, branding });
    // Every replica's branding copies are dropped when the tables change (and operators' SQL).
    let invalidations = platform::invalidation::Listener::new(ctx.pool.clone())
        .cache(BRANDING_CACHE, state.branding.clone())
        .with_metrics(&ctx.metrics)
        .spawn(ctx.shutdown.clone());
    let background =
        vec![scheduler::spawn(state.clone(), ctx.shutdown.clone(), ctx.metrics.scheduler()), invalidations];
    let eraser = Arc::new(erasure::LicensingEraser { clock: state.clock.clone() });
    let data = actix_web::web::Data::from(state);
    Ok(Wiring {
        routes: Arc::new(move |cfg| {
            cfg.app_data(data.clone())
                .configure(routes::configure)
                .configure(platform::privacy::routes(data.pool.clone(), privacy::SECTIONS));
        }),
        handler: Some(events::erasure::with_erasure(
            "licensing",
            events::test_clocks::with_test_clocks(test_clocks, None),
            eraser,
        )),
        background,
    })
}
