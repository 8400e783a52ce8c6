//! Events published by rewards.

/// Every event type rewards publishes.
pub const TYPES: &[&str] = &[];
