//! The client's wire contract, against a scripted HTTP server that records every request and
//! answers exactly what a test queues: what each request carries (key, version, idempotency key,
//! form body), which answers are retried (Stripe's `Stripe-Should-Retry` header first, then the
//! kind of failure), and how an answer the client cannot use is reported. stripe-fake's own tests
//! drive the same client against the stateful double; these pin what the fake cannot produce on
//! demand (a 2xx that is not JSON, a 409 Stripe asks to retry, a 5xx it asks not to).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod script;
mod wire;
