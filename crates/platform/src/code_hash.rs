//! Secrets at rest for codes a person types: license keys, voucher codes.
//!
//! Such a code is a bearer credential, so the database keeps only a keyed hash of it,
//! HMAC-SHA256(server key, canonical code), looked up by that hash, plus a short prefix in a
//! column of its own so people can recognise it in lists. The full code is shown once, in the
//! response that creates it. A keyed hash and not a plain one: the codes are long random strings,
//! but a leaked table must not be checkable offline against guesses without the key too.
//!
//! Rotation: a hash cannot be recomputed without the code, so an old key stays configured (as a
//! *previous* key) until every code hashed under it has been used once (and re-hashed under the
//! current key by its service) or has expired. Lookups try the current key first, then each
//! previous one ([`CodeHasher::candidates`]).
//!
//! The SQL migrations that converted plaintext columns compute the same HMAC with PostgreSQL's
//! built-in `sha256()` (see each service's migration; tests compare both).

use crate::config::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a deployment's dev and test configuration use (scripts/dev.env, the k8s dev overlay,
/// test configs). DEV ONLY: anyone who knows it can check guessed codes against a leaked table.
pub const DEV_KEY: &str = "dev-only-code-hash-key-do-not-use-in-production";

/// Shortest key accepted: below this a key is a password, not a key.
pub const MIN_KEY_LEN: usize = 16;

/// Bytes of a stored hash (HMAC-SHA256).
pub const HASH_LEN: usize = 32;

/// Keys of the codes of one service: the current one hashes, every one may match.
#[derive(Clone)]
pub struct CodeHasher {
    /// Current key first, then the previous ones, each with its key already absorbed.
    keys: Vec<Hmac<Sha256>>,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeHasher([redacted], {} previous)", self.keys.len() - 1)
    }
}

impl CodeHasher {
    /// `current` hashes new codes; `previous` (comma-separated, may be empty) still match old ones.
    /// The error names what is wrong, never the value.
    pub fn new(current: &Secret, previous: Option<&Secret>) -> Result<Self, String> {
        let mut raw = vec![current.expose()];
        if let Some(p) = previous {
            raw.extend(p.expose().split(',').map(str::trim).filter(|k| !k.is_empty()));
        }
        let mut keys = Vec::with_capacity(raw.len());
        for (i, key) in raw.iter().enumerate() {
            if key.len() < MIN_KEY_LEN {
                let which =
                    if i == 0 { "the code hash key".to_string() } else { format!("previous code hash key {i}") };
                return Err(format!("{which} is shorter than {MIN_KEY_LEN} characters"));
            }
            keys.push(keyed(key.as_bytes()));
        }
        Ok(Self { keys })
    }

    /// The hash to store for `code` (already in its canonical form).
    pub fn hash(&self, code: &str) -> Vec<u8> {
        mac(&self.keys[0], code)
    }

    /// Every hash `code` may be stored under, current key first: look up with `= ANY(...)`.
    pub fn candidates(&self, code: &str) -> Vec<Vec<u8>> {
        self.keys.iter().map(|k| mac(k, code)).collect()
    }

    /// Whether `stored` is `code`'s hash under any key, compared in constant time.
    pub fn matches(&self, code: &str, stored: &[u8]) -> bool {
        // Every key is tried even after a match, so the time says nothing about which one.
        self.keys.iter().fold(false, |found, k| {
            let mut m = k.clone();
            m.update(code.as_bytes());
            m.verify_slice(stored).is_ok() | found
        })
    }

    /// Whether `stored` was hashed under the current key (else it is re-hashed when next used).
    pub fn is_current(&self, code: &str, stored: &[u8]) -> bool {
        let mut m = self.keys[0].clone();
        m.update(code.as_bytes());
        m.verify_slice(stored).is_ok()
    }
}

#[allow(clippy::expect_used)] // HMAC takes keys of any length, so `new_from_slice` cannot fail.
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
}

fn mac(key: &Hmac<Sha256>, code: &str) -> Vec<u8> {
    let mut m = key.clone();
    m.update(code.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The first `chars` characters of `code`: what lists show, enough to tell one's codes apart,
/// far too little to use (the rest stays 100+ random bits).
pub fn prefix(code: &str, chars: usize) -> String {
    code.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(previous: Option<&str>) -> CodeHasher {
        CodeHasher::new(&Secret::new("current-key-0123456789"), previous.map(Secret::new).as_ref()).unwrap()
    }

    #[test]
    fn matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?" (the key is below our
        // minimum, so build the MAC directly: the point is that `mac` is plain HMAC-SHA256).
        let digest = mac(&keyed(b"Jefe"), "what do ya want for nothing?");
        assert_eq!(hex::encode(digest), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn hashes_are_keyed_and_stable() {
        let h = hasher(None);
        assert_eq!(h.hash("ABC"), h.hash("ABC"));
        assert_eq!(h.hash("ABC").len(), HASH_LEN);
        assert_ne!(h.hash("ABC"), h.hash("ABD"));
        let other = CodeHasher::new(&Secret::new("another-key-0123456789"), None).unwrap();
        assert_ne!(h.hash("ABC"), other.hash("ABC"));
    }

    #[test]
    fn previous_keys_still_match_and_are_tried_after_the_current_one() {
        let old = CodeHasher::new(&Secret::new("old-key-0123456789ab"), None).unwrap();
        let stored = old.hash("RW-1234");
        let h = hasher(Some(" old-key-0123456789ab , "));
        assert!(h.matches("RW-1234", &stored));
        assert!(!h.is_current("RW-1234", &stored));
        assert_eq!(h.candidates("RW-1234"), vec![h.hash("RW-1234"), stored.clone()]);
        assert!(!h.matches("RW-1235", &stored));
        assert!(!hasher(None).matches("RW-1234", &stored));
        assert!(h.is_current("RW-1234", &h.hash("RW-1234")));
        assert!(!h.matches("RW-1234", &stored[..31]));
    }

    #[test]
    fn short_keys_are_refused_without_echoing_them() {
        let e = CodeHasher::new(&Secret::new("xyzzy"), None).unwrap_err();
        assert!(e.contains("shorter than 16") && !e.contains("xyzzy"), "{e}");
        let e = CodeHasher::new(&Secret::new(DEV_KEY), Some(&Secret::new("tiny"))).unwrap_err();
        assert!(e.starts_with("previous code hash key 1") && !e.contains("tiny"), "{e}");
        assert!(!format!("{:?}", hasher(None)).contains("current-key"));
    }

    #[test]
    fn prefixes_count_characters() {
        assert_eq!(prefix("RW-7K2M-Q9XD", 7), "RW-7K2M");
        assert_eq!(prefix("AB", 7), "AB");
    }
}
