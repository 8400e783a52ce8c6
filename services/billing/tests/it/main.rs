//! The billing service through its HTTP API, on the real PostgreSQL and RabbitMQ, with stripe-fake in-process.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod boot;
mod cancel;
mod erasure;
mod invoices;
mod methods;
mod payments;
mod privacy;
mod reconcile;
mod refund_policy;
mod refunds;
mod reports;
mod stripe_calls;
mod support;
mod voids;
mod webhook_checks;
mod webhooks;
