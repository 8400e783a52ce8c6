//! Parses Stripe's form-encoded request bodies (`a=1&metadata[k]=v`) into flat pairs and checks them the way
//! Stripe does: unknown parameters are refused, which catches a client that misspells or mis-nests a field.

use std::collections::BTreeMap;

use crate::error::ApiError;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pairs: BTreeMap<String, String>,
}

impl Params {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::invalid_param("parameter_invalid_string", "body", "Request body is not UTF-8."))?;
        let mut pairs = BTreeMap::new();
        for item in text.split('&').filter(|s| !s.is_empty()) {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let key = decode(key)?;
            let value = decode(value)?;
            pairs.insert(key, value);
        }
        Ok(Self { pairs })
    }

    /// The same parameters always give the same string, whatever their order on the wire: this is what an
    /// idempotent retry is compared by.
    pub(crate) fn canonical(&self) -> String {
        self.pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    }

    /// Refuses any parameter whose top-level name (before `[`) is not listed. `expand` is accepted everywhere.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for key in self.pairs.keys() {
            let top = key.split('[').next().unwrap_or(key);
            if top != "expand" && !allowed.contains(&top) {
                return Err(ApiError::invalid_param(
                    "parameter_unknown",
                    key,
                    format!("Received unknown parameter: {key}"),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.pairs.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value as sent, empty included (an empty value clears a field on update).
    pub(crate) fn raw(&self, key: &str) -> Option<&str> {
        self.pairs.get(key).map(String::as_str)
    }

    /// Refuses any `parent[child]` whose child is not listed (and a bare `parent=` with a value).
    pub(crate) fn only_nested(&self, parent: &str, allowed: &[&str]) -> Result<(), ApiError> {
        for key in self.pairs.keys() {
            let Some(rest) = key.strip_prefix(parent) else { continue };
            if rest.is_empty() && self.str(key).is_none() {
                continue;
            }
            let child = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
            if !child.is_some_and(|c| allowed.contains(&c)) {
                return Err(ApiError::invalid_param(
                    "parameter_unknown",
                    key,
                    format!("Received unknown parameter: {key}"),
                ));
            }
        }
        Ok(())
    }

    /// Every `name` and `name[...]` pair, for list parameters (`payment_method_types[]=card`).
    pub(crate) fn prefixed(&self, name: &str) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| k.as_str() == name || k.strip_prefix(name).is_some_and(|r| r.starts_with('[')))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Query strings have the same encoding as form bodies.
    pub(crate) fn parse_query(query: &str) -> Result<Self, ApiError> {
        Self::parse(query.as_bytes())
    }

    pub(crate) fn required_str(&self, key: &str) -> Result<&str, ApiError> {
        self.str(key).ok_or_else(|| ApiError::missing_param(key))
    }

    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid_param("parameter_invalid_integer", key, format!("Invalid integer: {raw}"))
            }),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.str(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(raw) => {
                Err(ApiError::invalid_param("parameter_invalid_boolean", key, format!("Invalid boolean: {raw}")))
            }
        }
    }

    /// `metadata[k]=v` pairs as a map, with Stripe's limits.
    pub(crate) fn metadata(&self) -> Result<BTreeMap<String, String>, ApiError> {
        let mut out = BTreeMap::new();
        for (key, value) in &self.pairs {
            let Some(rest) = key.strip_prefix("metadata") else { continue };
            if rest.is_empty() {
                continue; // `metadata=` means "no metadata"
            }
            let inner = rest
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .filter(|k| !k.is_empty() && !k.contains(['[', ']']));
            let Some(inner) = inner else {
                return Err(ApiError::invalid_param(
                    "parameter_invalid_string",
                    key,
                    format!("Invalid metadata key: {key}"),
                ));
            };
            if inner.chars().count() > 40 || value.chars().count() > 500 {
                return Err(ApiError::invalid_param(
                    "parameter_invalid_string",
                    key,
                    "Metadata keys are limited to 40 characters and values to 500.",
                ));
            }
            out.insert(inner.to_owned(), value.clone());
        }
        if out.len() > 50 {
            return Err(ApiError::invalid_param(
                "parameter_invalid_string",
                "metadata",
                "Metadata is limited to 50 keys.",
            ));
        }
        Ok(out)
    }
}

fn decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(|| {
                    ApiError::invalid_param("parameter_invalid_string", "body", "Malformed percent-encoding.")
                })?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::invalid_param("parameter_invalid_string", "body", "Parameter is not UTF-8."))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_escaped_pairs() {
        let p = Params::parse(b"amount=999&metadata[order]=a+b%26c&metadata%5Bx%5D=%C3%A9&currency=usd").unwrap();
        assert_eq!(p.int("amount").unwrap(), Some(999));
        let m = p.metadata().unwrap();
        assert_eq!(m["order"], "a b&c");
        assert_eq!(m["x"], "é");
        assert!(p.only(&["amount", "currency", "metadata"]).is_ok());
        assert_eq!(p.only(&["amount", "metadata"]).unwrap_err().code, Some("parameter_unknown"));
    }

    #[test]
    fn canonical_form_ignores_order() {
        let a = Params::parse(b"b=2&a=1").unwrap();
        let b = Params::parse(b"a=1&b=2").unwrap();
        assert_eq!(a.canonical(), b.canonical());
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(Params::parse(b"a=%zz").is_err());
        assert!(Params::parse(b"a=%4").is_err());
        assert!(Params::parse(&[b'a', b'=', 0xff]).is_err());
        assert!(Params::parse(b"metadata[a][b]=1").unwrap().metadata().is_err());
        assert!(Params::parse(b"confirm=yes").unwrap().bool("confirm").is_err());
        assert!(Params::parse(b"amount=9.99").unwrap().int("amount").is_err());
    }
}
