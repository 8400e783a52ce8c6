//! Pagination cursors: opaque strings from the client, decoded into the types the services use.
#![no_main]
use libfuzzer_sys::fuzz_target;
use platform::pagination::{decode_cursor, encode_cursor};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let _ = decode_cursor::<serde_json::Value>(raw);
    let _ = decode_cursor::<(String, uuid::Uuid)>(raw);
    if let Ok(n) = decode_cursor::<i64>(raw) {
        // A cursor that decodes re-encodes to one that decodes to the same value.
        assert_eq!(decode_cursor::<i64>(&encode_cursor(&n)).ok(), Some(n));
    }
});
