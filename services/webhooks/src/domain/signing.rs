//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): the secret is `whsec_`
//! followed by the base64 of the key bytes; a signature is
//! `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, several separated by spaces (during
//! a secret rotation both the new and the old secret sign, and receivers accept either).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
/// 24 random bytes, as Svix issues them.
const KEY_LEN: usize = 24;

/// A new signing secret, `whsec_<base64 of 24 random bytes>`.
pub fn new_secret() -> String {
    let bytes: [u8; KEY_LEN] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key bytes of a `whsec_` secret.
pub fn key_of(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).ok_or("a signing secret starts with whsec_")?;
    STANDARD.decode(b64).map_err(|_| "a signing secret is base64 after whsec_".to_string())
}

/// One `v1,<base64>` signature of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = key_of(secret)?;
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let signatures = secrets.iter().map(|s| sign(s, id, timestamp, body)).collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the Standard Webhooks reference libraries' tests.
    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn header_carries_one_signature_per_secret() {
        let (a, b) = (new_secret(), new_secret());
        let h = header(&[&a, &b], "id", 1, b"{}").unwrap();
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts, vec![sign(&a, "id", 1, b"{}").unwrap(), sign(&b, "id", 1, b"{}").unwrap()]);
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn new_secrets_are_whsec_with_24_key_bytes() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(key_of(&s).unwrap().len(), 24);
        assert_ne!(s, new_secret());
        assert!(key_of("nope").is_err());
        assert!(key_of("whsec_!!!").is_err());
    }
}
