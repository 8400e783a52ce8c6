//! The rewards service through its HTTP API, on the real PostgreSQL and RabbitMQ.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod boot;
mod cursors;
mod earning;
mod erasure;
mod friends;
mod leaderboard;
mod privacy;
mod redeem;
mod replicas;
mod reports;
mod scale;
mod schemas;
mod support;
mod tokens;
mod vouchers;
