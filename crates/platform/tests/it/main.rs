//! Platform plumbing against the real PostgreSQL.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod audit_context;
mod code_hash;
mod fold;
mod idempotency;
mod input;
mod internal;
mod invalidation;
mod pool;
mod prepared;
mod problems;
mod retention;
mod support;
mod tls;
