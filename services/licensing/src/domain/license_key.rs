//! License keys: 145 random bits as 29 Crockford base32 symbols plus one check symbol, shown in
//! six groups of five (`XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXC`).
//!
//! The check symbol is Luhn mod 32 over the symbol values. It stays inside the alphabet (unlike
//! Crockford's mod-37 symbols `*~$=U`, awkward in a key) and catches every single mistyped symbol
//! and most swaps of neighbours, so a typo is refused before any database lookup. Crockford's
//! alphabet has no I, L, O or U; reading accepts `I`/`L` as 1 and `O` as 0, any case, and ignores
//! hyphens and spaces.

use rand::RngCore;
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random symbols in a key: 29 x 5 = 145 bits.
pub const RANDOM_SYMBOLS: usize = 29;
pub const KEY_SYMBOLS: usize = RANDOM_SYMBOLS + 1;
const GROUP: usize = 5;
/// Symbols of a key kept in clear (`license_key_prefix`): its first group.
pub const PREFIX_SYMBOLS: usize = GROUP;

/// A license key in canonical form (upper case, no separators, check symbol last).
#[derive(Clone, PartialEq, Eq)]
pub struct LicenseKey(String);

/// Why a typed key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Wrong length or a symbol outside the alphabet.
    Malformed,
    /// Well formed, but the check symbol does not match: a symbol was mistyped.
    CheckFailed,
}

impl LicenseKey {
    /// A fresh key from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> Self {
        let mut bytes = [0u8; RANDOM_SYMBOLS];
        rand::rng().fill_bytes(&mut bytes);
        // 256 is a multiple of 32, so masking keeps every symbol uniform.
        let values: Vec<u8> = bytes.iter().map(|b| b & 31).collect();
        Self::from_values(&values)
    }

    fn from_values(values: &[u8]) -> Self {
        let mut s: String = values.iter().map(|v| ALPHABET[*v as usize] as char).collect();
        s.push(ALPHABET[check_value(values) as usize] as char);
        Self(s)
    }

    /// Read a key as a human typed it.
    pub fn parse(input: &str) -> Result<Self, KeyError> {
        let mut values = Vec::with_capacity(KEY_SYMBOLS);
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            values.push(symbol_value(c).ok_or(KeyError::Malformed)?);
            if values.len() > KEY_SYMBOLS {
                return Err(KeyError::Malformed);
            }
        }
        if values.len() != KEY_SYMBOLS {
            return Err(KeyError::Malformed);
        }
        let (body, check) = values.split_at(RANDOM_SYMBOLS);
        if check_value(body) != check[0] {
            return Err(KeyError::CheckFailed);
        }
        Ok(Self::from_values(body))
    }

    /// The canonical form, as stored.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// What is shown once the key has been handed out: its first group, enough to recognise it
    /// among an organisation's licenses (25 bits of 145: useless to guess the rest).
    pub fn prefix(&self) -> String {
        platform::code_hash::prefix(&self.0, PREFIX_SYMBOLS)
    }

    /// Grouped for humans.
    pub fn display(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars.chunks(GROUP).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    }
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A key is a credential of sorts: keep it out of logs.
        write!(f, "LicenseKey(...{})", &self.0[self.0.len().saturating_sub(4)..])
    }
}

fn symbol_value(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET.iter().position(|a| *a as char == c).map(|p| p as u8)
}

/// Luhn mod N (N = 32): double every second value from the right, fold by N, sum.
fn check_value(values: &[u8]) -> u8 {
    const N: u32 = 32;
    let mut factor = 2;
    let mut sum = 0u32;
    for v in values.iter().rev() {
        let addend = factor * u32::from(*v);
        sum += addend / N + addend % N;
        factor = if factor == 2 { 1 } else { 2 };
    }
    ((N - sum % N) % N) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_are_grouped() {
        for _ in 0..200 {
            let key = LicenseKey::generate();
            let shown = key.display();
            assert_eq!(shown.len(), KEY_SYMBOLS + KEY_SYMBOLS / GROUP - 1);
            assert_eq!(shown.split('-').count(), 6);
            assert_eq!(LicenseKey::parse(&shown), Ok(key.clone()));
            assert_eq!(LicenseKey::parse(&shown.to_lowercase()), Ok(key.clone()));
            assert_eq!(LicenseKey::parse(key.canonical()), Ok(key));
        }
    }

    #[test]
    fn keys_differ() {
        let a = LicenseKey::generate();
        let b = LicenseKey::generate();
        assert_ne!(a, b);
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let key = LicenseKey::generate();
        let canonical: Vec<char> = key.canonical().chars().collect();
        for pos in 0..canonical.len() {
            for sub in ALPHABET.iter().map(|b| *b as char) {
                if sub == canonical[pos] {
                    continue;
                }
                let mut typo = canonical.clone();
                typo[pos] = sub;
                let typo: String = typo.into_iter().collect();
                assert_eq!(LicenseKey::parse(&typo), Err(KeyError::CheckFailed), "{typo}");
            }
        }
    }

    #[test]
    fn most_neighbour_swaps_are_caught() {
        let mut caught = 0;
        let mut swaps = 0;
        for _ in 0..50 {
            let key = LicenseKey::generate();
            let chars: Vec<char> = key.canonical().chars().collect();
            for i in 0..chars.len() - 1 {
                if chars[i] == chars[i + 1] {
                    continue;
                }
                let mut swapped = chars.clone();
                swapped.swap(i, i + 1);
                swaps += 1;
                if LicenseKey::parse(&swapped.into_iter().collect::<String>()).is_err() {
                    caught += 1;
                }
            }
        }
        assert!(caught * 100 >= swaps * 95, "{caught}/{swaps}");
    }

    #[test]
    fn confusable_letters_are_read_as_digits_and_junk_is_malformed() {
        let key = LicenseKey::generate();
        let shown = key.display().replace('1', "l").replace('0', "O");
        assert_eq!(LicenseKey::parse(&shown), Ok(key.clone()));
        assert_eq!(LicenseKey::parse(""), Err(KeyError::Malformed));
        assert_eq!(LicenseKey::parse(&key.canonical()[1..]), Err(KeyError::Malformed));
        assert_eq!(LicenseKey::parse(&format!("{}0", key.canonical())), Err(KeyError::Malformed));
        assert_eq!(LicenseKey::parse(&key.canonical().replacen(|_| true, "U", 1)), Err(KeyError::Malformed));
        assert!(!format!("{key:?}").contains(key.canonical()));
    }

    #[test]
    fn the_prefix_is_the_first_group() {
        let key = LicenseKey::generate();
        assert_eq!(key.prefix(), key.display()[..5]);
        assert_eq!(key.prefix().len(), PREFIX_SYMBOLS);
    }
}
