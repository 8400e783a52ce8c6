//! Pure rules of outgoing webhooks, no IO: signing, the SSRF address classifier, the retry
//! schedule and event-type patterns.

pub mod patterns;
pub mod schedule;
pub mod signing;
pub mod ssrf;
