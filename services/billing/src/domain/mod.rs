//! Billing's pure rules: no IO here.

pub mod methods;
pub mod payment;
pub mod receipt;
pub mod reconcile;
pub mod refund;
pub mod void;
