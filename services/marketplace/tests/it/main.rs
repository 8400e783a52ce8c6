//! The marketplace service through its HTTP API, on the real PostgreSQL and RabbitMQ.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod boot;
