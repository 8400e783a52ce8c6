//! Voucher codes: 80 random bits in Crockford base32 (no I, L, O, U), grouped for reading aloud;
//! and who may reserve a voucher for a purchase at checkout.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const ISSUED: &str = "issued";
pub const RESERVED: &str = "reserved";
pub const CONSUMED: &str = "consumed";
pub const EXPIRED: &str = "expired";

/// Why a voucher cannot be reserved for a purchase. Each is a stable `code` of the 422 naming
/// `voucher_code` that the buyer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such code, or another user's: the two are indistinguishable so codes cannot be probed.
    NotFound,
    /// Held by another purchase (pending or completed).
    Used,
    Expired,
    CurrencyMismatch,
}

/// What a reservation is checked against.
pub struct Held<'a> {
    pub owner: Uuid,
    pub status: &'a str,
    pub currency: &'a str,
    pub expires_at: DateTime<Utc>,
    pub purchase_id: Option<Uuid>,
}

/// What reserving `voucher` for `purchase` by `user` in `currency` does at `now`.
#[derive(Debug, PartialEq, Eq)]
pub enum Reserve {
    /// Take it (`issued`, the buyer's, unexpired, right currency).
    Take,
    /// Already held by this very purchase: a retry, answered as the first time.
    AlreadyHeld,
    Refuse(Refusal),
}

pub fn reserve(v: Option<&Held<'_>>, user: Uuid, purchase: Uuid, currency: &str, now: DateTime<Utc>) -> Reserve {
    let Some(v) = v.filter(|v| v.owner == user) else {
        return Reserve::Refuse(Refusal::NotFound);
    };
    if v.purchase_id == Some(purchase) && matches!(v.status, RESERVED | CONSUMED) {
        return Reserve::AlreadyHeld;
    }
    if matches!(v.status, RESERVED | CONSUMED) {
        return Reserve::Refuse(Refusal::Used);
    }
    if v.status == EXPIRED || v.expires_at <= now {
        return Reserve::Refuse(Refusal::Expired);
    }
    if !v.currency.trim().eq_ignore_ascii_case(currency.trim()) {
        return Reserve::Refuse(Refusal::CurrencyMismatch);
    }
    Reserve::Take
}

/// The status a released voucher returns to: usable again until it expires.
pub fn status_after_release(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    if expires_at > now {
        ISSUED
    } else {
        EXPIRED
    }
}

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `RW-XXXX-XXXX-XXXX-XXXX` from 10 random bytes.
pub fn code_from(bytes: [u8; 10]) -> String {
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let chars: Vec<char> = (0..16).rev().map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    format!("RW-{}", groups.join("-"))
}

pub fn generate() -> String {
    code_from(rand::random())
}

/// Characters of a code kept in clear (`code_prefix`): `RW-` and the first group, 20 of its 80
/// random bits, enough for its owner to tell their vouchers apart.
pub const PREFIX_CHARS: usize = 7;

/// The code as typed at checkout, in the form it was issued and hashed in: trimmed, upper case.
pub fn canonical(typed: &str) -> String {
    typed.trim().to_ascii_uppercase()
}

pub fn prefix(code: &str) -> String {
    platform::code_hash::prefix(code, PREFIX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_and_unambiguous() {
        assert_eq!(code_from([0; 10]), "RW-0000-0000-0000-0000");
        assert_eq!(code_from([0xff; 10]), "RW-ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        let c = generate();
        assert_eq!(c.len(), 22);
        assert!(c[3..].chars().all(|ch| ch == '-' || ALPHABET.contains(&(ch as u8))));
        assert_ne!(generate(), generate());
        assert_eq!(prefix("RW-7K2M-Q9XD-4HNB-T3VC"), "RW-7K2M");
        assert_eq!(canonical(" rw-7k2m-q9xd-4hnb-t3vc\n"), "RW-7K2M-Q9XD-4HNB-T3VC");
    }

    #[test]
    fn only_the_owner_reserves_an_issued_unexpired_voucher_in_its_currency() {
        let now = Utc::now();
        let (me, other, p, q) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let held =
            |status, purchase_id, expires_at| Held { owner: me, status, currency: "USD", expires_at, purchase_id };
        let later = now + chrono::Duration::days(1);
        assert_eq!(reserve(Some(&held(ISSUED, None, later)), me, p, "USD", now), Reserve::Take);
        assert_eq!(reserve(None, me, p, "USD", now), Reserve::Refuse(Refusal::NotFound));
        assert_eq!(reserve(Some(&held(ISSUED, None, later)), other, p, "USD", now), Reserve::Refuse(Refusal::NotFound));
        assert_eq!(reserve(Some(&held(RESERVED, Some(q), later)), me, p, "USD", now), Reserve::Refuse(Refusal::Used));
        assert_eq!(reserve(Some(&held(CONSUMED, Some(q), later)), me, p, "USD", now), Reserve::Refuse(Refusal::Used));
        assert_eq!(reserve(Some(&held(RESERVED, Some(p), later)), me, p, "USD", now), Reserve::AlreadyHeld);
        assert_eq!(reserve(Some(&held(ISSUED, None, now)), me, p, "USD", now), Reserve::Refuse(Refusal::Expired));
        assert_eq!(reserve(Some(&held(EXPIRED, None, later)), me, p, "USD", now), Reserve::Refuse(Refusal::Expired));
        assert_eq!(
            reserve(Some(&held(ISSUED, None, later)), me, p, "EUR", now),
            Reserve::Refuse(Refusal::CurrencyMismatch)
        );
        assert_eq!(status_after_release(later, now), ISSUED);
        assert_eq!(status_after_release(now, now), EXPIRED);
    }
}
