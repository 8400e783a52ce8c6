//! `REWARDS_*` settings of rewards' own (the common ones are in `platform::config::ServiceConfig`).
//! Earning amounts, caps and catalogue prices are data (tables), not configuration.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct RewardsConfig {
    /// How long a course voucher can be used after it is issued.
    #[serde(default = "default_voucher_valid_days")]
    pub voucher_valid_days: i64,
}

fn default_voucher_valid_days() -> i64 {
    90
}

impl Default for RewardsConfig {
    fn default() -> Self {
        Self { voucher_valid_days: default_voucher_valid_days() }
    }
}
