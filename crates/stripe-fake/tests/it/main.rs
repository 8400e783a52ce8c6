//! Drives stripe-fake through the real `stripe` client: one test binary, modules by feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod faults;
mod helpers;
mod http_controls;
mod idempotency;
mod payments;
mod refunds;
mod setup_intents;
mod webhooks;
