//! Shared plumbing for every service. Nothing here knows about the domain.

pub mod audit;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod code_hash;
pub mod config;
pub mod db;
pub mod db_tls;
pub mod discount;
pub mod erasure;
pub mod health;
pub mod html;
pub mod http;
pub mod idempotency;
pub mod input;
pub mod internal;
pub mod invalidation;
pub mod listen;
pub mod metrics;
pub mod money;
pub mod pagination;
pub mod privacy;
pub mod problem;
pub mod reports;
pub mod retention;
pub mod server;
pub mod telemetry;

pub use problem::Problem;

/// Migrations for the tables every service has (idempotency keys).
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!();
