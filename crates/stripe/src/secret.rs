//! A string that must never end up in logs: Stripe secret keys and webhook signing secrets.

use std::fmt;

/// Holds a secret; `Debug` and `Display` print a redacted form so a stray `{:?}` on a config struct cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that has to send it (a header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretKey {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretKey {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let key = SecretKey::new("sk_test_123");
        assert!(!format!("{key:?}").contains("sk_test"));
        assert!(!format!("{key}").contains("sk_test"));
        assert_eq!(key.expose(), "sk_test_123");
    }
}
