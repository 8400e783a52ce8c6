//! Billing's pure rules: no IO here.

pub mod country;
pub mod invoice;
pub mod methods;
pub mod payment;
pub mod receipt;
pub mod reconcile;
pub mod refund;
pub mod tax;
pub mod void;
