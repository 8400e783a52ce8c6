//! `REWARDS_*` settings of rewards' own (the common ones are in `platform::config::ServiceConfig`).
//! Earning amounts, caps and catalogue prices are data (tables), not configuration.

use crate::domain::handle::DEV_SECRET;
use platform::config::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct RewardsConfig {
    /// How long a course voucher can be used after it is issued.
    #[serde(default = "default_voucher_valid_days")]
    pub voucher_valid_days: i64,
    /// How old the in-memory snapshot behind the big boards' first page and the caller's rank may
    /// be (`board_snapshots`); 0 reads a fresh one on every request.
    #[serde(default = "default_leaderboard_snapshot_ms")]
    pub leaderboard_snapshot_ms: u64,
    /// How often the score moves awards record are added into the leaderboard's histogram
    /// (`store::leaderboard::HISTOGRAM_FOLD`). Ranks include the pending ones either way; this bounds how many wait.
    #[serde(default = "default_histogram_fold_ms")]
    pub histogram_fold_ms: u64,
    /// Key of the pseudonymous handles that leaderboards show instead of user ids
    /// (`domain::handle`). Defaults to a published DEV-ONLY value (startup warns); production
    /// must set its own, and keep it: changing it changes every handle.
    #[serde(default = "default_leaderboard_handle_secret")]
    pub leaderboard_handle_secret: Secret,
    /// Key of the voucher codes' hashes (HMAC-SHA256, `platform::code_hash`): only the hash of a
    /// code is stored. 16+ characters, the same on every replica and for `migrate`, and kept: a
    /// code hashed under it matches under no other. Required (no default outside tests).
    pub code_hash_key: Secret,
    /// During a rotation: the previous keys, comma-separated, still matched (a code that matches
    /// under one is re-hashed under the current key when next used).
    #[serde(default)]
    pub code_hash_previous_keys: Option<Secret>,
}

impl RewardsConfig {
    pub fn uses_dev_handle_secret(&self) -> bool {
        self.leaderboard_handle_secret.expose() == DEV_SECRET
    }
}

fn default_voucher_valid_days() -> i64 {
    90
}

fn default_leaderboard_snapshot_ms() -> u64 {
    1000
}

fn default_histogram_fold_ms() -> u64 {
    1000
}

fn default_leaderboard_handle_secret() -> Secret {
    Secret::new(DEV_SECRET)
}

impl Default for RewardsConfig {
    fn default() -> Self {
        Self {
            voucher_valid_days: default_voucher_valid_days(),
            leaderboard_snapshot_ms: default_leaderboard_snapshot_ms(),
            histogram_fold_ms: default_histogram_fold_ms(),
            leaderboard_handle_secret: default_leaderboard_handle_secret(),
            // Tests' configuration: the DEV ONLY key, as in scripts/dev.env.
            code_hash_key: Secret::new(platform::code_hash::DEV_KEY),
            code_hash_previous_keys: None,
        }
    }
}
