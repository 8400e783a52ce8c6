//! Money as clients send it (`{"amount": "9.99", "currency": "USD"}`) and Decimal strings:
//! whatever parses converts to minor units and back without changing its value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use platform::money::Money;
use std::str::FromStr;

fuzz_target!(|data: &[u8]| {
    if let Ok(money) = serde_json::from_slice::<Money>(data) {
        if let Ok(units) = money.to_minor_units() {
            assert_eq!(Money::from_minor_units(units, money.currency), money, "minor units round trip");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(amount) = rust_decimal::Decimal::from_str(text) {
            for currency in platform::money::Currency::all() {
                let _ = Money::new(amount, currency);
                let _ = Money::round(amount, currency);
            }
        }
    }
});
