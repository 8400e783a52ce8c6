//! Which currency a subscription is billed in. A subscription keeps the currency it was created in
//! for its life (renewals, upgrades, resumes are priced in it), so MRR and reports never convert.

use platform::money::{Currency, PRICE_CURRENCIES};

/// The currency a new subscription is billed in: the one asked for, or the tier's default. Only
/// the price currencies are accepted; whether the tier has a price there is the store's answer.
pub fn billing_currency(requested: Option<&str>, default: Currency) -> Result<Currency, String> {
    let Some(code) = requested else {
        return Ok(default);
    };
    let refused = || format!("prices are in {}, not {code:?}", PRICE_CURRENCIES.join(", "));
    let currency: Currency = code.parse().map_err(|_| refused())?;
    if currency.is_price_currency() && currency.code() == code {
        Ok(currency)
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_unless_a_price_currency_is_asked_for() {
        assert_eq!(billing_currency(None, Currency::USD), Ok(Currency::USD));
        for code in ["USD", "EUR", "GBP", "BRL"] {
            assert_eq!(billing_currency(Some(code), Currency::USD).map(|c| c.code().to_string()), Ok(code.into()));
        }
        // Valid money elsewhere, but no prices are set in it; unknown; not upper case.
        for code in ["JPY", "XYZ", "eur", "", "EURO"] {
            assert!(billing_currency(Some(code), Currency::USD).is_err(), "{code}");
        }
    }
}
