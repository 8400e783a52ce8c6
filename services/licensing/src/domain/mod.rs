//! Licensing's pure rules: no IO here.

pub mod branding;
pub mod license;
pub mod license_key;
pub mod sla;
pub mod time;
pub mod usage;
