//! The rewards service.

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use runtime::{Context, ServiceSpec, Wiring};
use std::sync::Arc;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();
pub const SPEC: ServiceSpec = ServiceSpec { name: "rewards", migrations: &MIGRATIONS };

/// The service's own settings (`REWARDS_*`), beside the common ones in `platform::config::ServiceConfig`.
pub type Config = runtime::NoConfig;

pub fn setup(_ctx: &Context, _config: Config) -> Result<Wiring, String> {
    Ok(Wiring { routes: Arc::new(|_cfg| {}), handler: None, background: Vec::new() })
}
