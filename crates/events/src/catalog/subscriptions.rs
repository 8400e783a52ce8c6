//! Events published by subscriptions.

/// Every event type subscriptions publishes.
pub const TYPES: &[&str] = &[];
