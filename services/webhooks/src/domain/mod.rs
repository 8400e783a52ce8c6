//! Pure rules of outgoing webhooks, no IO: signing, the SSRF address classifier, the retry
//! schedule, event-type patterns and the erasure of a person from a stored event.

pub mod patterns;
pub mod schedule;
pub mod scrub;
pub mod signing;
pub mod ssrf;
