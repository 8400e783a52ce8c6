//! Shared plumbing for every service. Nothing here knows about the domain.

pub mod audit;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod code_hash;
pub mod config;
pub mod db;
pub mod db_pool;
pub mod db_tls;
pub mod discount;
pub mod erasure;
pub mod fold;
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

/// Every binary that links this crate (each service, the gateway, their tests) allocates with
/// mimalloc. Why: measured under load, glibc malloc was the largest single cost of
/// instrumentation. Spans and their attributes are allocated on the HTTP workers and freed in
/// batches on the exporter's thread, and glibc's per-thread arenas make such cross-thread frees
/// their slow path (docs/performance.md, "Instrumentation"). Not under cargo-fuzz: its builds run
/// with AddressSanitizer, which watches the system allocator's heap, not mimalloc's.
#[cfg(not(fuzzing))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use problem::Problem;

/// Migrations for the tables every service has (idempotency keys).
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!();
