//! The `Idempotency-Key` header: accepted keys are exactly 1-255 visible ASCII characters.
#![no_main]
use libfuzzer_sys::fuzz_target;
use platform::idempotency::IdempotencyKey;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let visible = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| (0x21..0x7f).contains(&b));
    match IdempotencyKey::parse(raw) {
        Ok(key) => {
            assert!(visible, "accepted {raw:?}");
            assert_eq!(key.0, raw);
        }
        Err(_) => assert!(!visible, "refused {raw:?}"),
    }
});
