//! Voucher codes: 80 random bits in Crockford base32 (no I, L, O, U), grouped for reading aloud.

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
    }
}
