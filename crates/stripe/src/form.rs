//! `application/x-www-form-urlencoded` bodies the way Stripe reads them: nested fields as `parent[child]=value`.
//!
//! Pairs keep insertion order and metadata is a `BTreeMap`, so the same parameters always encode to the same bytes:
//! a retry sends exactly what the first attempt sent, which Stripe's idempotency check compares.

use std::collections::BTreeMap;

use crate::StripeError;

/// Stripe's documented metadata limits; checking them here turns a confusing remote 400 into a local error.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_LEN: usize = 40;
const MAX_METADATA_VALUE_LEN: usize = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FormBody {
    pairs: Vec<(String, String)>,
}

impl FormBody {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Self {
        self.pairs.push((key.into(), value.to_string()));
        self
    }

    pub(crate) fn push_opt<V: ToString>(&mut self, key: &str, value: Option<V>) -> &mut Self {
        if let Some(value) = value {
            self.push(key, value);
        }
        self
    }

    /// Adds `metadata[k]=v` for every entry, after checking Stripe's limits. Brackets in a key are refused because
    /// they would change how the server splits the nested name.
    pub(crate) fn push_metadata(&mut self, metadata: &BTreeMap<String, String>) -> Result<&mut Self, StripeError> {
        if metadata.len() > MAX_METADATA_KEYS {
            return Err(StripeError::InvalidArgument(format!(
                "metadata has {} keys, Stripe allows {MAX_METADATA_KEYS}",
                metadata.len()
            )));
        }
        for (key, value) in metadata {
            if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_LEN || key.contains(['[', ']']) {
                return Err(StripeError::InvalidArgument(format!("invalid metadata key {key:?}")));
            }
            if value.chars().count() > MAX_METADATA_VALUE_LEN {
                return Err(StripeError::InvalidArgument(format!(
                    "metadata value for {key:?} exceeds {MAX_METADATA_VALUE_LEN} characters"
                )));
            }
            self.push(format!("metadata[{key}]"), value);
        }
        Ok(self)
    }

    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_key(key, &mut out);
            out.push('=');
            encode_component(value, &mut out);
        }
        out
    }
}

/// Keeps the structural brackets of `a[b]` readable and escapes everything else.
fn encode_key(key: &str, out: &mut String) {
    for (i, part) in key.split('[').enumerate() {
        if i > 0 {
            out.push('[');
        }
        match part.strip_suffix(']') {
            Some(inner) if i > 0 => {
                encode_component(inner, out);
                out.push(']');
            }
            _ => encode_component(part, out),
        }
    }
}

fn encode_component(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn encodes_flat_and_nested_fields() {
        let mut metadata = BTreeMap::new();
        metadata.insert("order_id".to_owned(), "42".to_owned());
        metadata.insert("course".to_owned(), "Rust & Web".to_owned());
        let mut form = FormBody::new();
        form.push("amount", 999).push("currency", "usd");
        form.push_metadata(&metadata).unwrap();
        assert_eq!(form.encode(), "amount=999&currency=usd&metadata[course]=Rust+%26+Web&metadata[order_id]=42");
    }

    #[test]
    fn escapes_reserved_and_non_ascii_characters() {
        let mut form = FormBody::new();
        form.push("email", "a+b@example.com").push("description", "café=1%");
        assert_eq!(form.encode(), "email=a%2Bb%40example.com&description=caf%C3%A9%3D1%25");
    }

    #[test]
    fn same_params_encode_to_same_bytes() {
        let build = |pairs: &[(&str, &str)]| {
            let metadata: BTreeMap<String, String> =
                pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            let mut form = FormBody::new();
            form.push_metadata(&metadata).unwrap();
            form.encode()
        };
        assert_eq!(build(&[("b", "2"), ("a", "1")]), build(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn refuses_metadata_outside_stripe_limits() {
        let mut form = FormBody::new();
        let bracket: BTreeMap<_, _> = [("a]b".to_owned(), "x".to_owned())].into();
        assert!(form.push_metadata(&bracket).is_err());
        let long_key: BTreeMap<_, _> = [("k".repeat(41), "x".to_owned())].into();
        assert!(form.push_metadata(&long_key).is_err());
        let long_value: BTreeMap<_, _> = [("k".to_owned(), "v".repeat(501))].into();
        assert!(form.push_metadata(&long_value).is_err());
        let many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(form.push_metadata(&many).is_err());
    }
}
