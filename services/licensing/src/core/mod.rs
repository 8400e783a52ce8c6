//! Operations that combine the rules, the store and the outbox inside the caller's transaction.
//! Shared by the handlers and the scheduler.

pub mod seats;
pub mod tickets;
