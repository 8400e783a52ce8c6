//! The seeded data's ids. scripts/bench-seed.sql generates the same ids in SQL; change both together.
//!
//! | what | Rust | SQL |
//! |---|---|---|
//! | user n | `user(n)` | `lpad(to_hex(n), 32, '0')::uuid` |
//! | course n (1..=COURSES) | `course(n)` | `('c' \|\| lpad(to_hex(n), 31, '0'))::uuid` |
//! | org n (1..=ORGS) domain | `org_domain(n)` | `'org' \|\| n \|\| '.bench.example'` |
//! | license n (1..=LICENSES) key | `license_key(n)` | `'BENCH' \|\| lpad(n::text, 24, '0')` + Luhn mod 32 |

use uuid::Uuid;

pub const COURSES: u64 = 100_000;
/// Every tenth course is free (no payment); the others are paid.
pub fn course_is_paid(n: u64) -> bool {
    !n.is_multiple_of(10)
}
pub const CATEGORIES: [&str; 12] = [
    "development",
    "business",
    "design",
    "marketing",
    "it-and-software",
    "data-science",
    "personal-development",
    "photography",
    "music",
    "health",
    "finance",
    "languages",
];
/// Title words: course n is about `TOPICS[n % 40]`.
pub const TOPICS: [&str; 40] = [
    "rust",
    "python",
    "golang",
    "kubernetes",
    "docker",
    "react",
    "typescript",
    "postgres",
    "linux",
    "networking",
    "security",
    "statistics",
    "excel",
    "leadership",
    "negotiation",
    "accounting",
    "photoshop",
    "illustrator",
    "typography",
    "branding",
    "seo",
    "copywriting",
    "guitar",
    "piano",
    "singing",
    "yoga",
    "nutrition",
    "meditation",
    "investing",
    "trading",
    "budgeting",
    "spanish",
    "french",
    "japanese",
    "german",
    "portrait",
    "landscape",
    "lightroom",
    "productivity",
    "writing",
];

// Reward accounts 1..=1,000,000 exist, each with 100,000 spendable tokens (see the seed).
/// Users 1..=ACTIVE_USERS do the reads (about 2% of the accounts are active at once).
pub const ACTIVE_USERS: u64 = 20_000;
/// Users who redeem in the money-write scenario.
pub const REDEEMERS: std::ops::Range<u64> = 100_001..200_001;
/// Fresh accounts for the outbox-lag probe: tokens, no subscription (multiples of 100 have one).
pub const PROBE_USERS_FROM: u64 = 300_001;
/// Users with no account at all: each buys or activates exactly once.
pub const BUYERS_FROM: u64 = 2_000_001;
pub const FLOW_USERS_FROM: u64 = 3_000_001;
pub const SEAT_USERS_FROM: u64 = 4_000_001;

pub const ORGS: u64 = 1_000;
pub const LICENSES: u64 = 20;

pub fn user(n: u64) -> Uuid {
    Uuid::from_u128(u128::from(n))
}

pub fn course(n: u64) -> Uuid {
    Uuid::from_u128((0xc_u128 << 124) | u128::from(n))
}

/// Org n's own domain; odd orgs also have a custom domain `learn<n>.example` in their branding.
pub fn org_domain(n: u64) -> String {
    format!("org{n}.bench.example")
}

pub fn custom_domain(n: u64) -> Option<String> {
    (n % 2 == 1).then(|| format!("learn{n}.example"))
}

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// License n's key: 29 symbols `BENCH000...n` plus licensing's check symbol (Luhn mod 32, every
/// second value from the right doubled).
pub fn license_key(n: u64) -> String {
    let body = format!("BENCH{n:024}");
    let mut sum = 0u32;
    for (i, c) in body.bytes().rev().enumerate() {
        let value = ALPHABET.iter().position(|a| *a == c).unwrap_or(0) as u32;
        let addend = if i % 2 == 0 { 2 * value } else { value };
        sum += addend / 32 + addend % 32;
    }
    let check = ((32 - sum % 32) % 32) as usize;
    format!("{body}{}", ALPHABET[check] as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_sql_forms() {
        assert_eq!(user(255).to_string(), "00000000-0000-0000-0000-0000000000ff");
        assert_eq!(course(1).to_string(), "c0000000-0000-0000-0000-000000000001");
        assert_eq!(license_key(1).len(), 30);
        assert!(license_key(7).starts_with("BENCH000000000000000000000007"));
    }

    #[test]
    fn one_substitution_changes_the_check_symbol() {
        // The property licensing relies on: any single changed symbol breaks the check.
        let a = license_key(12);
        let b = license_key(13);
        assert_ne!(a[29..], b[29..]);
    }
}
