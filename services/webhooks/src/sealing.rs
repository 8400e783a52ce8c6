//! Signing secrets at rest: sealed with AES-256-GCM under `WEBHOOKS_SECRET_KEY` (a key derived
//! with SHA-256 from the configured text), the endpoint id as associated data so a sealed secret
//! copied onto another row does not open. A database dump alone does not reveal the secrets.
//! Unlike license keys, a webhook secret cannot be kept as a hash: every delivery needs it to sign.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use platform::config::Secret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    pub fn new(key: &Secret) -> Result<Self, String> {
        if key.expose().len() < platform::code_hash::MIN_KEY_LEN {
            return Err(format!("must be at least {} characters", platform::code_hash::MIN_KEY_LEN));
        }
        let bytes = Sha256::digest(key.expose().as_bytes());
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "cannot build the AES key".to_string())?;
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    /// `nonce || ciphertext || tag` of `secret`, bound to `endpoint`.
    pub fn seal(&self, endpoint: Uuid, secret: &str) -> Result<Vec<u8>, String> {
        // Random 96-bit nonces: far below the 2^32 seals per key where collisions would matter.
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut data = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(endpoint.as_bytes()), &mut data)
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    pub fn open(&self, endpoint: Uuid, sealed: &[u8]) -> Result<String, String> {
        if sealed.len() < NONCE_LEN {
            return Err("sealed secret too short".into());
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_string())?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(endpoint.as_bytes()), &mut data)
            .map_err(|_| "the secret does not open under WEBHOOKS_SECRET_KEY".to_string())?;
        String::from_utf8(plain.to_vec()).map_err(|_| "sealed secret is not text".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_the_endpoint_and_key() {
        let s = Sealer::new(&Secret::new("0123456789abcdef-test")).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = s.seal(a, "whsec_abc").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"whsec_abc"));
        assert_eq!(s.open(a, &sealed).unwrap(), "whsec_abc");
        assert!(s.open(b, &sealed).is_err());
        let other = Sealer::new(&Secret::new("another-key-of-16+chars")).unwrap();
        assert!(other.open(a, &sealed).is_err());
        assert!(Sealer::new(&Secret::new("short")).is_err());
    }
}
