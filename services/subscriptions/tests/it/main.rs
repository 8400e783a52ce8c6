//! Subscriptions through its HTTP API, with billing and stripe-fake in-process, on the real
//! PostgreSQL and RabbitMQ.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod boot;
mod cards;
mod coupons;
mod currencies;
mod entitlements;
mod erasure;
mod lifecycle;
mod money_back;
mod pause;
mod pool;
mod privacy;
mod renewal_lease;
mod replicas;
mod reports;
mod seats;
mod support;
mod test_clocks;
mod trials;
