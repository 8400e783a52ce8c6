use billing::Config;
use platform::config::Secret;

pub const WEBHOOK_SECRET: &str = "whsec_test_current";
pub const API_KEY: &str = "sk_test_billing_it";

pub fn billing_config(stripe_base: &str) -> Config {
    Config {
        stripe_api_base: stripe_base.into(),
        stripe_api_key: Secret::new(API_KEY),
        stripe_webhook_secrets: Secret::new(WEBHOOK_SECRET),
        stripe_timeout_ms: 1_000,
        merchant_name: "Learning Platform Inc.".into(),
        merchant_address: "1 Example Street, Springfield".into(),
        refund_window_days: 14,
    }
}
