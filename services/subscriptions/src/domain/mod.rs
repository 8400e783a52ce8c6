//! Subscriptions' pure rules: lifecycle, billing periods, proration, entitlements. No IO.

pub mod charge;
pub mod discount;
pub mod dunning;
pub mod entitlement;
pub mod lifecycle;
pub mod mrr;
pub mod period;
pub mod pricing;
pub mod proration;
pub mod trial;
