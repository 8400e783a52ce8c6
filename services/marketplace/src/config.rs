//! `MARKETPLACE_*` settings of marketplace's own (the common ones are in `platform::config::ServiceConfig`).

use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct MarketplaceConfig {
    /// Where billing listens, for the internal "take this payment" call.
    pub billing_url: String,
    #[serde(default = "default_billing_timeout")]
    pub billing_timeout_ms: u64,
    /// Where rewards listens, for the internal "reserve this voucher" call at checkout.
    pub rewards_url: String,
    #[serde(default = "default_rewards_timeout")]
    pub rewards_timeout_ms: u64,
    /// Directory of the local content store (course packages). The default sits on the container's
    /// writable /tmp so the service starts anywhere; production mounts a persistent volume shared
    /// by the replicas and points this at it.
    #[serde(default = "default_content_dir")]
    pub content_dir: String,
    #[serde(default = "default_max_upload")]
    pub max_upload_bytes: u64,
    /// The longest an upload's form may take to read. Also the bound on a body that ends without
    /// its closing boundary: actix-multipart then waits for more forever (found by the `upload`
    /// fuzz target), so without it such a request would hold its connection and staged file.
    #[serde(default = "default_upload_timeout")]
    pub upload_timeout_secs: u64,
    /// Accepted package types, comma-separated; each is also checked against the file's first bytes.
    #[serde(default = "default_content_types")]
    pub allowed_content_types: String,
    /// The instructor's share of each sale (0..=1), stored on the sale.
    #[serde(default = "default_share", with = "rust_decimal::serde::str")]
    pub instructor_share: Decimal,
    /// Days a sale's earnings stay `pending` (refundable) before they become `available`.
    #[serde(default = "default_refund_window")]
    pub refund_window_days: i64,
    /// The smallest payout, in the payout's currency.
    #[serde(default = "default_min_payout", with = "rust_decimal::serde::str")]
    pub min_payout: Decimal,
    /// How often the earnings-maturity scheduler runs.
    #[serde(default = "default_scheduler_interval")]
    pub scheduler_interval_ms: u64,
    /// How long a page of the public catalogue (`GET /api/courses/list`) is served from memory
    /// and may be cached by clients; 0 reads every page from the database.
    #[serde(default = "default_catalog_cache_ms")]
    pub catalog_cache_ms: u64,
    /// How often the purchases recorded as deltas are added into the courses' `purchase_count`
    /// (`store::courses::PURCHASE_COUNT_FOLD`): how long a course's count may trail its sales.
    #[serde(default = "default_purchase_count_fold_ms")]
    pub purchase_count_fold_ms: u64,
    /// Minutes after which a purchase that was never paid (pending, or declined and not retried)
    /// is closed and its PaymentIntent voided.
    #[serde(default = "default_purchase_expiry_minutes")]
    pub purchase_expiry_minutes: i64,
    /// Sandbox only (issue 23, point 5): purchases may be made on a test clock and follow it.
    /// Never set in the prod overlay (scripts/k8s-check.sh refuses it there).
    #[serde(default)]
    pub test_clocks: bool,
}

fn default_billing_timeout() -> u64 {
    10_000
}
fn default_rewards_timeout() -> u64 {
    5_000
}
fn default_content_dir() -> String {
    "/tmp/marketplace-content".into()
}
fn default_max_upload() -> u64 {
    200 * 1024 * 1024
}
fn default_upload_timeout() -> u64 {
    600
}
/// The package types accepted unless the operator says otherwise (the OpenAPI document lists these).
pub const DEFAULT_CONTENT_TYPES: &str = "application/zip,application/x-zip-compressed,application/pdf,video/mp4";

fn default_content_types() -> String {
    DEFAULT_CONTENT_TYPES.into()
}
fn default_share() -> Decimal {
    Decimal::new(70, 2)
}
fn default_refund_window() -> i64 {
    30
}
fn default_min_payout() -> Decimal {
    Decimal::new(50, 0)
}
fn default_scheduler_interval() -> u64 {
    60_000
}
fn default_purchase_count_fold_ms() -> u64 {
    1000
}
fn default_catalog_cache_ms() -> u64 {
    5_000
}
fn default_purchase_expiry_minutes() -> i64 {
    24 * 60
}

impl MarketplaceConfig {
    /// Defaults for everything but billing's address (tests and local runs); rewards is expected
    /// on a port nothing listens on until the caller sets `rewards_url`.
    pub fn with_billing_url(billing_url: &str) -> Self {
        Self {
            billing_url: billing_url.into(),
            billing_timeout_ms: default_billing_timeout(),
            rewards_url: "http://127.0.0.1:9".into(),
            rewards_timeout_ms: default_rewards_timeout(),
            content_dir: default_content_dir(),
            max_upload_bytes: default_max_upload(),
            upload_timeout_secs: default_upload_timeout(),
            allowed_content_types: default_content_types(),
            instructor_share: default_share(),
            refund_window_days: default_refund_window(),
            min_payout: default_min_payout(),
            scheduler_interval_ms: default_scheduler_interval(),
            catalog_cache_ms: default_catalog_cache_ms(),
            purchase_count_fold_ms: default_purchase_count_fold_ms(),
            purchase_expiry_minutes: default_purchase_expiry_minutes(),
            test_clocks: false,
        }
    }

    pub fn content_types(&self) -> Vec<String> {
        self.allowed_content_types.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect()
    }

    /// Settings that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.instructor_share < Decimal::ZERO || self.instructor_share > Decimal::ONE {
            problems.push("MARKETPLACE_INSTRUCTOR_SHARE must be between 0 and 1");
        }
        if self.refund_window_days < 0 {
            problems.push("MARKETPLACE_REFUND_WINDOW_DAYS must not be negative");
        }
        if self.min_payout <= Decimal::ZERO {
            problems.push("MARKETPLACE_MIN_PAYOUT must be positive");
        }
        if self.purchase_expiry_minutes <= 0 {
            problems.push("MARKETPLACE_PURCHASE_EXPIRY_MINUTES must be positive");
        }
        if self.max_upload_bytes == 0 {
            problems.push("MARKETPLACE_MAX_UPLOAD_BYTES must be positive");
        }
        if self.content_types().is_empty() {
            problems.push("MARKETPLACE_ALLOWED_CONTENT_TYPES must name at least one type");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_overrides_from_the_environment() {
        let c: MarketplaceConfig = platform::config::load_from(
            "MARKETPLACE_",
            vars(&[
                ("MARKETPLACE_BILLING_URL", "http://billing:8081"),
                ("MARKETPLACE_REWARDS_URL", "http://rewards:8084"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.instructor_share, Decimal::new(70, 2));
        assert_eq!((c.refund_window_days, c.min_payout), (30, Decimal::from(50)));
        assert!(c.check().is_ok());
        let c: MarketplaceConfig = platform::config::load_from(
            "MARKETPLACE_",
            vars(&[
                ("MARKETPLACE_BILLING_URL", "http://b"),
                ("MARKETPLACE_REWARDS_URL", "http://r"),
                ("MARKETPLACE_INSTRUCTOR_SHARE", "0.8"),
                ("MARKETPLACE_MIN_PAYOUT", "25.50"),
                ("MARKETPLACE_MAX_UPLOAD_BYTES", "1024"),
            ]),
        )
        .expect("loads");
        assert_eq!(
            (c.instructor_share, c.min_payout, c.max_upload_bytes),
            (Decimal::new(8, 1), Decimal::new(2550, 2), 1024)
        );
        let bad = MarketplaceConfig { instructor_share: Decimal::from(2), ..c };
        assert!(bad.check().is_err());
        let missing = platform::config::load_from::<MarketplaceConfig>("MARKETPLACE_", Vec::new()).expect_err("fails");
        assert!(missing.problems.iter().any(|p| p.contains("MARKETPLACE_BILLING_URL")));
        assert!(missing.problems.iter().any(|p| p.contains("MARKETPLACE_REWARDS_URL")));
    }
}
