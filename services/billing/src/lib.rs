//! Billing: the only service that talks to Stripe. It owns customers, payments, refunds, receipts,
//! billing history and the Stripe webhook events it has applied.

pub mod cancel;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod erasure;
pub mod error;
pub mod invoicing;
pub mod methods;
pub mod metrics;
pub mod openapi;
pub mod pdf;
pub mod privacy;
pub mod reconcile;
pub mod reports;
pub mod routes;
pub mod store;
pub mod voids;
pub mod webhooks;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::clock::{SharedClock, SystemClock};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;
use std::time::Duration;

pub use config::BillingConfig as Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec =
    ServiceSpec { name: "billing", migrations: &MIGRATIONS, openapi: <openapi::ApiDoc as utoipa::OpenApi>::openapi };

/// What every handler shares.
pub struct State {
    pub pool: platform::db::Pool,
    pub stripe: stripe::Client,
    pub webhooks: stripe::WebhookVerifier,
    pub config: Config,
    pub metrics: metrics::BillingMetrics,
    /// What payments, failures and refunds are dated (tests move it).
    pub clock: SharedClock,
}

pub fn setup(ctx: &Context, config: Config) -> Result<Wiring, String> {
    setup_with_clock(ctx, config, Arc::new(SystemClock))
}

/// As [`setup`], with the clock outcomes are dated by (tests move it).
pub fn setup_with_clock(ctx: &Context, config: Config, clock: SharedClock) -> Result<Wiring, String> {
    let mut stripe_config = stripe::ClientConfig::new(&config.stripe_api_base, config.stripe_api_key.expose());
    stripe_config.timeout = Duration::from_millis(config.stripe_timeout_ms);
    let stripe = stripe::Client::new(stripe_config)
        .map_err(|e| format!("Stripe client: {e}"))?
        .with_observer(metrics::BillingMetrics::stripe_observer(&ctx.metrics));
    let secrets = config.webhook_secrets();
    if secrets.is_empty() {
        return Err("BILLING_STRIPE_WEBHOOK_SECRETS must name at least one secret".into());
    }
    let timing = voids::Timing {
        poll: Duration::from_millis(config.void_poll_ms.max(10)),
        retry_base: Duration::from_millis(config.void_retry_base_ms),
        // Longer than the worst Stripe exchange of one attempt (three calls, each retried twice).
        lease: Duration::from_millis(config.stripe_timeout_ms.saturating_mul(12).saturating_add(30_000)),
    };
    let metrics =
        metrics::BillingMetrics::new(&ctx.metrics, &ctx.pool, Duration::from_secs(ctx.config.business_metrics_secs));
    let state = Arc::new(State {
        pool: ctx.pool.clone(),
        stripe,
        webhooks: stripe::WebhookVerifier::new(secrets),
        config,
        metrics,
        clock,
    });
    ctx.retain(platform::retention::Rule {
        table: "stripe_events",
        time_column: "received_at",
        condition: None,
        keep: platform::retention::hours(
            "BILLING_RETENTION_STRIPE_EVENTS_HOURS",
            state.config.retention_stripe_events_hours,
            config::STRIPE_RETRY_WINDOW,
        )?,
    });
    let stripe_for_erasure = state.stripe.clone();
    let wake = Arc::new(tokio::sync::Notify::new());
    let worker = voids::spawn(state.clone(), timing, wake.clone(), ctx.shutdown.clone());
    let reconciler = reconcile::spawn(state.clone(), ctx.shutdown.clone());
    let data = actix_web::web::Data::from(state);
    Ok(Wiring {
        routes: Arc::new(move |cfg| {
            cfg.app_data(data.clone())
                .configure(routes::configure)
                .configure(platform::privacy::routes(data.pool.clone(), privacy::SECTIONS));
        }),
        handler: Some(events::erasure::with_erasure(
            "billing",
            Some(Arc::new(consumers::Handler { wake })),
            Arc::new(erasure::BillingEraser { stripe: stripe_for_erasure }),
        )),
        background: vec![worker, reconciler],
    })
}
