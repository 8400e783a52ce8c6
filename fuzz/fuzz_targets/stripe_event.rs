//! Stripe event JSON as billing reads it from a verified webhook body.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<stripe::Event>(data) {
        // The parts billing dispatches on are read without panicking.
        let _ = format!("{event:?}");
    }
});
