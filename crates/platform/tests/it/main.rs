//! Platform plumbing against the real PostgreSQL.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod code_hash;
mod idempotency;
mod input;
mod internal;
mod invalidation;
mod retention;
mod tls;
