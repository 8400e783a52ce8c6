//! The licensing service through its HTTP API, on the real PostgreSQL and RabbitMQ.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod activation;
mod audit;
mod boot;
mod bounds;
mod branding;
mod certificates;
mod domains;
mod erasure;
mod keys_at_rest;
mod licenses;
mod pages;
mod privacy;
mod reports;
mod scenario;
mod support;
mod test_clocks;
mod tickets;
mod versions;
