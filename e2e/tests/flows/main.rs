//! The main flows of the platform end to end: stripe-fake, the five services and the gateway
//! in-process on the real PostgreSQL and RabbitMQ, driven through the gateway with real JWTs only.
//! Every event published during a flow is captured and checked against its contract.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod api_fuzz;
mod audit;
mod contracts;
mod coupons;
mod custom_domain;
mod dashboards;
mod edges;
mod enterprise;
mod erasure;
mod export;
mod failures;
mod hygiene;
mod input;
mod invoices;
mod lost_webhooks;
mod market_promo;
mod observability;
mod orphan_payments;
mod pause;
mod payment_methods;
mod privacy;
mod purchase;
mod redemption;
mod refund_policy;
mod replicas;
mod reports;
mod reports_licensing;
mod reports_market;
mod restore;
mod self_service;
mod subscription;
mod subscription_refunds;
mod support;
mod test_clocks;
mod traces;
mod trials;
mod vouchers;
mod webhooks;
