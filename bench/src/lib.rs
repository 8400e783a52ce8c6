//! What the two load tools share: `bench` (latency under open-loop load, `make bench`) and
//! `chaos` (faults at two replicas per service, `make chaos`).

pub mod auth;
pub mod awarded;
