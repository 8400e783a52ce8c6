//! The gateway against a real upstream service (billing, in-process on the real database and broker).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod audit;
mod auth;
mod drain;
mod export;
mod forwarding;
mod hardening;
mod jwks;
mod limits;
mod paths;
mod replicas;
mod support;
