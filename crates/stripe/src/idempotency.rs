//! Idempotency keys. The type exists so that a POST cannot be written without one: a retried request with a fresh
//! key would be a second charge.

use std::fmt;

use crate::StripeError;

/// Stripe's limit on the key length.
const MAX_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Wraps a key the caller already built. Refuses empty keys, keys over 255 bytes and keys with characters that
    /// are not allowed in an HTTP header value.
    pub fn new(key: impl Into<String>) -> Result<Self, StripeError> {
        let key = key.into();
        if key.is_empty() || key.len() > MAX_LEN {
            return Err(StripeError::InvalidArgument(format!("idempotency key must be 1..={MAX_LEN} bytes")));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StripeError::InvalidArgument("idempotency key must be printable ASCII without spaces".into()));
        }
        Ok(Self(key))
    }

    /// Derives a key from the caller's operation, e.g. `("payment-create", payment_id)`. The same operation always
    /// yields the same key, which is the point: a retry after a timeout or a crash must not create a second object.
    pub fn for_operation(operation: &str, id: impl fmt::Display) -> Result<Self, StripeError> {
        Self::new(format!("{operation}:{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_stable() {
        let a = IdempotencyKey::for_operation("payment-create", "0190-abc").unwrap();
        let b = IdempotencyKey::for_operation("payment-create", "0190-abc").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "payment-create:0190-abc");
    }

    #[test]
    fn refuses_bad_keys() {
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a".repeat(256)).is_err());
        assert!(IdempotencyKey::new("has space").is_err());
        assert!(IdempotencyKey::new("new\nline").is_err());
        assert!(IdempotencyKey::new("a".repeat(255)).is_ok());
    }
}
