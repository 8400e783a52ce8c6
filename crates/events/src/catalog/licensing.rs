//! Events published by licensing.

/// Every event type licensing publishes.
pub const TYPES: &[&str] = &[];
