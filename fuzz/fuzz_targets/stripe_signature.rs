//! `Stripe-Signature` header parsing and webhook verification: arbitrary header and body must
//! never panic, a forged header must never verify, and the body signed with the secret always does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stripe::{sign, WebhookVerifier};

const SECRET: &str = "whsec_fuzz_only";
const NOW: i64 = 1_764_000_000;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(header) = std::str::from_utf8(header) else { return };
    let verifier = WebhookVerifier::new([SECRET]);
    if verifier.verify_at(header, body, NOW).is_ok() {
        // A header that verifies binds this body: the same header on another body must fail.
        let mut other = body.to_vec();
        other.push(b'x');
        assert!(verifier.verify_at(header, &other, NOW).is_err(), "a signature verified two bodies");
    }
    let good = sign(SECRET, NOW, body);
    assert!(verifier.verify_at(&good, body, NOW).is_ok(), "a correctly signed body was refused");
    assert!(WebhookVerifier::new(["whsec_other"]).verify_at(&good, body, NOW).is_err(), "wrong secret accepted");
    let _ = verifier.construct_event_at(&good, body, NOW);
});
