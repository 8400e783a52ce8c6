//! Billing's pure rules: no IO here.

pub mod payment;
pub mod receipt;
pub mod refund;
pub mod void;
