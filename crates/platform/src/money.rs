//! Money: a `Decimal` amount with an ISO 4217 currency. Never floats.

use crate::problem::Problem;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Currencies the platform sells in, with their minor-unit exponent (Stripe's table).
const CURRENCIES: &[(&str, u32)] = &[
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("INR", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("SGD", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("VND", 0),
    ("CLP", 0),
    ("KWD", 3),
    ("BHD", 3),
    ("JOD", 3),
];

/// The smallest amount Stripe charges, in minor units of each currency we sell in: Stripe's
/// published table (USD 0.50, EUR 0.50, GBP 0.30, JPY 50, ...); for the currencies the table leaves
/// out (KRW, VND, CLP, KWD, BHD, JOD) Stripe's rule is "about 0.50 USD after conversion", so these
/// carry a rounded-up equivalent. The one place marketplace reads "too small to charge" from.
const MINIMUM_CHARGES: &[(&str, i64)] = &[
    ("USD", 50),
    ("EUR", 50),
    ("GBP", 30),
    ("CAD", 50),
    ("AUD", 50),
    ("CHF", 50),
    ("SEK", 300),
    ("NOK", 300),
    ("DKK", 250),
    ("PLN", 200),
    ("INR", 50),
    ("BRL", 50),
    ("MXN", 1000),
    ("SGD", 50),
    ("JPY", 50),
    ("KRW", 1000),
    ("VND", 15000),
    ("CLP", 500),
    ("KWD", 200),
    ("BHD", 200),
    ("JOD", 400),
];

/// The currencies prices are set in (tiers, courses); amounts in any currency above are still
/// valid money, but a price list offers only these.
pub const PRICE_CURRENCIES: [&str; 4] = ["USD", "EUR", "GBP", "BRL"];

/// ISO 4217 code, e.g. `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "USD", pattern = "^[A-Z]{3}$")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Every code the platform sells in (the OpenAPI document lists them).
    pub fn codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(code, _)| *code)
    }

    pub const USD: Currency = Currency(*b"USD");

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point in the currency's minor unit (USD 2, JPY 0, KWD 3).
    pub fn exponent(&self) -> u32 {
        CURRENCIES.iter().find(|(c, _)| *c == self.code()).map(|(_, e)| *e).unwrap_or(2)
    }

    /// Stripe's minimum charge in this currency: a smaller amount cannot be charged at all.
    pub fn minimum_charge(&self) -> Money {
        let units = MINIMUM_CHARGES.iter().find(|(c, _)| *c == self.code()).map(|(_, u)| *u).unwrap_or(50);
        Money::from_minor_units(units, *self)
    }

    /// Whether prices may be set in this currency ([`PRICE_CURRENCIES`]).
    pub fn is_price_currency(&self) -> bool {
        PRICE_CURRENCIES.contains(&self.code())
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().filter_map(|(c, _)| Currency::try_from(c.to_string()).ok())
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let upper = s.to_ascii_uppercase();
        if CURRENCIES.iter().any(|(c, _)| *c == upper) {
            let b = upper.as_bytes();
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(format!("unsupported currency {s:?}"))
        }
    }
}

impl std::str::FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Currency::try_from(s.to_string())
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// `{"amount": "9.99", "currency": "USD"}` in JSON; a JSON number for `amount` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// A decimal string with no more digits than the currency's minor unit.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "9.99", pattern = "^-?[0-9]+(\\.[0-9]+)?$")]
    pub amount: Decimal,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{amount} has more decimal places than {currency} allows ({exponent})")]
    TooPrecise { amount: Decimal, currency: Currency, exponent: u32 },
    #[error("amount out of range")]
    OutOfRange,
}

impl From<MoneyError> for Problem {
    fn from(e: MoneyError) -> Self {
        Problem::field("amount", e.to_string())
    }
}

impl Money {
    /// Build money, refusing amounts finer than the currency's minor unit.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let exponent = currency.exponent();
        if amount.normalize().scale() > exponent {
            return Err(MoneyError::TooPrecise { amount, currency, exponent });
        }
        let mut amount = amount;
        amount.rescale(exponent);
        Ok(Self { amount, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.exponent());
        Self { amount, currency }
    }

    /// Integer minor units as Stripe takes them: 9.99 USD -> 999, 500 JPY -> 500.
    pub fn to_minor_units(&self) -> Result<i64, MoneyError> {
        let exponent = self.currency.exponent();
        if self.amount.normalize().scale() > exponent {
            return Err(MoneyError::TooPrecise { amount: self.amount, currency: self.currency, exponent });
        }
        (self.amount * Decimal::from(10i64.pow(exponent))).to_i64().ok_or(MoneyError::OutOfRange)
    }

    pub fn from_minor_units(units: i64, currency: Currency) -> Self {
        Self { amount: Decimal::new(units, currency.exponent()), currency }
    }

    /// Round half-even (banker's rounding) to the currency's minor unit.
    pub fn round(amount: Decimal, currency: Currency) -> Self {
        let mut amount = amount.round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointNearestEven);
        amount.rescale(currency.exponent());
        Self { amount, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    #[test]
    fn minor_units_by_exponent() {
        let usd = Currency::USD;
        let jpy: Currency = "jpy".parse().expect("jpy");
        let kwd: Currency = "KWD".parse().expect("kwd");
        assert_eq!(Money::new(d("9.99"), usd).expect("ok").to_minor_units(), Ok(999));
        assert_eq!(Money::new(d("10"), usd).expect("ok").to_minor_units(), Ok(1000));
        assert_eq!(Money::new(d("500"), jpy).expect("ok").to_minor_units(), Ok(500));
        assert_eq!(Money::new(d("1.234"), kwd).expect("ok").to_minor_units(), Ok(1234));
        assert_eq!(Money::from_minor_units(999, usd).amount, d("9.99"));
        assert_eq!(Money::from_minor_units(500, jpy).amount, d("500"));
    }

    #[test]
    fn every_currency_has_a_minimum_charge() {
        assert_eq!(Currency::USD.minimum_charge().amount, d("0.50"));
        assert_eq!("GBP".parse::<Currency>().expect("gbp").minimum_charge().amount, d("0.30"));
        assert_eq!("JPY".parse::<Currency>().expect("jpy").minimum_charge().amount, d("50"));
        for c in Currency::all() {
            assert!(MINIMUM_CHARGES.iter().any(|(code, _)| *code == c.code()), "{c} has no minimum charge");
        }
    }

    #[test]
    fn excess_precision_is_refused() {
        assert!(Money::new(d("9.999"), Currency::USD).is_err());
        assert!(Money::new(d("1.5"), "JPY".parse().expect("jpy")).is_err());
        // Trailing zeros are not extra precision.
        assert!(Money::new(d("9.9900"), Currency::USD).is_ok());
    }

    #[test]
    fn rounding_is_half_even() {
        assert_eq!(Money::round(d("0.125"), Currency::USD).amount, d("0.12"));
        assert_eq!(Money::round(d("0.135"), Currency::USD).amount, d("0.14"));
        assert_eq!(Money::round(d("2.5"), "JPY".parse().expect("jpy")).amount, d("2"));
    }

    #[test]
    fn json_shape_refuses_floats_and_unknown_currencies() {
        let m: Money = serde_json::from_str(r#"{"amount":"9.99","currency":"USD"}"#).expect("parses");
        assert_eq!(m.amount, d("9.99"));
        assert_eq!(serde_json::to_string(&m).expect("ser"), r#"{"amount":"9.99","currency":"USD"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount":9.99,"currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"XYZ"}"#).is_err());
    }
}
