//! Pseudonyms for leaderboards: a board shows who ranks where without revealing anyone's user id
//! (a user id names the person in every other API and event, so it must not be harvestable from
//! a public-ish ranking).
//!
//! - A **handle** is `u_` + the first 12 bytes of HMAC-SHA256(secret, "handle" ‖ user id),
//!   base64url: stable across requests and replicas (same secret), 96 bits so a million users do
//!   not collide, and not reversible or enumerable without the secret.
//! - A board **cursor** needs the last row's user id as its tie-breaker, so that id travels
//!   masked: XORed with HMAC-SHA256(secret, "cursor" ‖ score ‖ reached_at). Only the service can
//!   unmask it. A forged mask unmasks to some other id, which only moves the page start among
//!   entries tied on score and time: it reveals nothing and reads nothing it should not.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// What a deployment that never set `REWARDS_LEADERBOARD_HANDLE_SECRET` uses. DEV ONLY: anyone
/// who knows it can compute every user's handle from their id; rewards warns at startup when it
/// is in use, and the Kubernetes manifests require the variable.
pub const DEV_SECRET: &str = "dev-only-leaderboard-handle-secret-do-not-use-in-production";

/// Handle bytes kept: 12 bytes = 16 base64url characters.
const HANDLE_BYTES: usize = 12;

#[derive(Clone)]
pub struct Pseudonyms {
    /// The HMAC with its key already absorbed: cloning it saves hashing the key again for every
    /// entry of every board page.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms([redacted])")
    }
}

impl Pseudonyms {
    #[allow(clippy::expect_used)] // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    pub fn new(secret: &str) -> Self {
        Self { keyed: <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length") }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The stable public handle of `user`, e.g. `u_3q2-7wYb1kZfXc0A`.
    pub fn handle(&self, user: Uuid) -> String {
        let digest = self.mac(&[b"handle", user.as_bytes()]);
        format!("u_{}", URL_SAFE_NO_PAD.encode(&digest[..HANDLE_BYTES]))
    }

    /// `user` masked for a cursor positioned at (`score`, `reached_at_micros`).
    pub fn mask(&self, user: Uuid, score: i64, reached_at_micros: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.xor(user.as_bytes(), score, reached_at_micros))
    }

    /// The user id of a cursor made by [`Self::mask`]; `None` when it is not 16 bytes of base64url.
    pub fn unmask(&self, masked: &str, score: i64, reached_at_micros: i64) -> Option<Uuid> {
        let bytes: [u8; 16] = URL_SAFE_NO_PAD.decode(masked).ok()?.try_into().ok()?;
        Some(Uuid::from_bytes(self.xor(&bytes, score, reached_at_micros)))
    }

    fn xor(&self, bytes: &[u8; 16], score: i64, reached_at_micros: i64) -> [u8; 16] {
        let pad = self.mac(&[b"cursor", &score.to_be_bytes(), &reached_at_micros.to_be_bytes()]);
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = bytes[i] ^ pad[i];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_stable_distinct_and_depend_on_the_secret() {
        let a = Pseudonyms::new("one secret");
        let user = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let other = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
        assert_eq!(a.handle(user), Pseudonyms::new("one secret").handle(user), "same secret, same handle");
        assert_ne!(a.handle(user), a.handle(other));
        assert_ne!(a.handle(user), Pseudonyms::new("another secret").handle(user));
        let h = a.handle(user);
        assert!(h.starts_with("u_") && h.len() == 18, "{h}");
        assert!(!h.contains(&user.simple().to_string()[..8]));
    }

    #[test]
    fn a_masked_id_unmasks_only_at_its_own_position() {
        let p = Pseudonyms::new("s");
        let user = Uuid::now_v7();
        let masked = p.mask(user, 30, 1_700_000_000_000_000);
        assert!(!masked.contains(&user.simple().to_string()));
        assert_eq!(p.unmask(&masked, 30, 1_700_000_000_000_000), Some(user));
        assert_ne!(p.unmask(&masked, 31, 1_700_000_000_000_000), Some(user));
        assert_ne!(Pseudonyms::new("t").unmask(&masked, 30, 1_700_000_000_000_000), Some(user));
        assert_eq!(p.unmask("not base64!", 30, 0), None);
        assert_eq!(p.unmask("AAAA", 30, 0), None, "too short");
    }
}
