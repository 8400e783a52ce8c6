//! The webhooks service through its HTTP API, on the real PostgreSQL and RabbitMQ, delivering to
//! a receiver on loopback (allowed by `WEBHOOKS_ALLOWED_HOSTS` as in development).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod delivery;
mod endpoints;
mod privacy;
mod support;
