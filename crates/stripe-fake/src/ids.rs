//! Stripe-looking ids: a type prefix and a random alphanumeric tail, so code that checks prefixes (`pi_`, `ch_`)
//! sees what it would see in production.

use rand::distr::{Alphanumeric, SampleString};

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Alphanumeric.sample_string(&mut rand::rng(), 24))
}

/// `pi_..._secret_...`, Stripe's client secret shape.
pub(crate) fn client_secret(payment_intent_id: &str) -> String {
    format!("{payment_intent_id}_secret_{}", Alphanumeric.sample_string(&mut rand::rng(), 25))
}

pub(crate) fn request_id() -> String {
    format!("req_{}", Alphanumeric.sample_string(&mut rand::rng(), 14))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_are_unique() {
        let a = new_id("pi");
        assert!(a.starts_with("pi_") && a.len() == 27);
        assert_ne!(a, new_id("pi"));
        assert!(client_secret(&a).starts_with(&format!("{a}_secret_")));
    }
}
