//! Domain events: the CloudEvents envelope, the typed catalog, the transactional outbox and its
//! relay, the idempotent consumer, and the RabbitMQ topology they share.

pub mod broker;
pub mod catalog;
pub mod consumer;
pub mod dlq;
pub mod envelope;
pub mod erasure;
pub mod metrics;
pub mod outbox;
pub mod relay;
pub mod replay;
pub mod retention;
pub mod retry;
pub mod test_clocks;
pub mod topology;
pub mod trace_headers;

pub use catalog::DomainEvent;
pub use consumer::{EventHandler, HandlerError};
pub use envelope::CloudEvent;
pub use retry::RetryPolicy;

/// Migrations for the outbox and inbox tables; every service runs them in its own schema.
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations = diesel_migrations::embed_migrations!();
