//! `stripe-fake`: the Stripe double as a process, for local development and the e2e environment.
//! Configured by `STRIPE_FAKE_*` environment variables (see `FakeConfig::from_env`).

use std::process::ExitCode;

use stripe_fake::{FakeConfig, StripeFake};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let config = match FakeConfig::from_env() {
        Ok(config) => config,
        Err(message) => {
            tracing::error!(%message, "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let webhook_url = config.webhook_url.clone();
    let fake = match StripeFake::start(config).await {
        Ok(fake) => fake,
        Err(error) => {
            tracing::error!(%error, "could not start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(base_url = %fake.base_url, addr = %fake.addr, ?webhook_url, "stripe-fake listening");
    shutdown_signal().await;
    tracing::info!("stopping");
    fake.stop().await;
    ExitCode::SUCCESS
}

/// Ctrl-C locally, SIGTERM from a container runtime.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
