//! The marketplace service through its HTTP API, on the real PostgreSQL and RabbitMQ; purchases
//! also run billing and stripe-fake in-process.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod boot;
mod catalog;
mod currencies;
mod cursors;
mod download;
mod earnings;
mod erasure;
mod expiry;
mod input;
mod privacy;
mod promotions;
mod purchase;
mod refunds;
mod replicas;
mod reports;
mod reviews;
mod support;
mod tax;
mod test_clocks;
mod upload;
mod voids;
mod vouchers;
