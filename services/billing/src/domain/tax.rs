//! Tax: which treatment a customer gets (a rate, reverse charge, or none), and the arithmetic.
//! Pure: the store reads the customer's billing details and the active rate, these rules decide.
//!
//! Rounding (documented in docs/api.md, "Invoices and tax"): tax is computed ONCE per invoice, on
//! the payment's net total (not per line), and rounded half-up (half away from zero) to the
//! currency's minor unit, which is what EU VAT rules and HMRC expect for an invoice-level amount.
//! Per-invoice rounding keeps negative lines (discounts, proration credits) exact: the tax of a
//! discounted charge is the tax of what is actually charged.

use platform::money::Currency;
use rust_decimal::{Decimal, RoundingStrategy};

/// The 27 EU member states (ISO 3166-1 alpha-2): where VAT reverse charge between businesses applies.
pub const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

pub fn in_eu(country: &str) -> bool {
    EU.contains(&country)
}

/// What tax decisions read of the customer's billing details.
#[derive(Debug, Clone, Copy)]
pub struct Customer<'a> {
    pub country: &'a str,
    pub business: bool,
    pub vat_id: Option<&'a str>,
}

/// A rate as the admin defined it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub percentage: Decimal,
    pub inclusive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Treatment {
    /// No billing details, or no active rate for the customer's place.
    Untaxed,
    /// An EU business in another member state than the seller's: the customer accounts for the
    /// VAT; the invoice says "Reverse charge" and carries no tax.
    ReverseCharge,
    Taxed(Rate),
}

/// The treatment of a customer: reverse charge first (it overrides any rate of their country),
/// else the rate of their place, if the admin defined one.
pub fn treatment(customer: Option<Customer<'_>>, seller_country: &str, rate: Option<Rate>) -> Treatment {
    let Some(c) = customer else {
        return Treatment::Untaxed;
    };
    let cross_border_eu = in_eu(seller_country) && in_eu(c.country) && c.country != seller_country;
    if c.business && cross_border_eu && c.vat_id.is_some_and(|id| vat_id_looks_valid(c.country, id)) {
        return Treatment::ReverseCharge;
    }
    match rate {
        Some(rate) => Treatment::Taxed(rate),
        None => Treatment::Untaxed,
    }
}

/// The VAT number prefix of an EU country (Greece's is EL, not GR).
fn vat_prefix(country: &str) -> &str {
    if country == "GR" {
        "EL"
    } else {
        country
    }
}

/// The shapes of each member state's VAT number after its prefix: `d` a digit, `a` a letter,
/// `x` either; anything else is itself.
fn vat_patterns(country: &str) -> &'static [&'static str] {
    match country {
        "AT" => &["Udddddddd"],
        "BE" => &["0ddddddddd", "1ddddddddd"],
        "BG" => &["ddddddddd", "dddddddddd"],
        "CY" => &["dddddddda"],
        "CZ" => &["dddddddd", "ddddddddd", "dddddddddd"],
        "DE" | "EE" | "GR" | "PT" => &["ddddddddd"],
        "DK" | "FI" | "HU" | "LU" | "MT" | "SI" => &["dddddddd"],
        "ES" => &["xdddddddx"],
        "FR" => &["xxddddddddd"],
        "HR" | "IT" | "LV" => &["ddddddddddd"],
        "IE" => &["ddddddda", "dddddddaa", "dxddddda"],
        "LT" => &["ddddddddd", "dddddddddddd"],
        "NL" => &["dddddddddBdd"],
        "PL" | "SK" => &["dddddddddd"],
        "RO" => &["dd", "ddd", "dddd", "ddddd", "dddddd", "ddddddd", "dddddddd", "ddddddddd", "dddddddddd"],
        "SE" => &["dddddddddd01"],
        _ => &[],
    }
}

fn matches(pattern: &str, s: &str) -> bool {
    pattern.len() == s.len()
        && pattern.chars().zip(s.chars()).all(|(p, c)| match p {
            'd' => c.is_ascii_digit(),
            'a' => c.is_ascii_uppercase(),
            'x' => c.is_ascii_digit() || c.is_ascii_uppercase(),
            literal => c == literal,
        })
}

/// Whether `vat_id` has the FORMAT of a VAT number of `country` (prefix and the country's
/// pattern; spaces, dots and dashes ignored). It is not checked against VIES: a well-formed
/// number that was never issued passes. Say so wherever reverse charge is explained.
pub fn vat_id_looks_valid(country: &str, vat_id: &str) -> bool {
    let compact: String =
        vat_id.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).map(|c| c.to_ascii_uppercase()).collect();
    let Some(rest) = compact.strip_prefix(vat_prefix(country)) else {
        return false;
    };
    vat_patterns(country).iter().any(|p| matches(p, rest))
}

/// Half-up (half away from zero) to the currency's minor unit: see the module comment.
pub fn round_tax(amount: Decimal, currency: Currency) -> Decimal {
    let mut r = amount.round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero);
    r.rescale(currency.exponent());
    r
}

/// A charge taken apart: `net + tax == total` always, each in the currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Revenue: what consumers (splits, MRR, reports) count.
    pub net: Decimal,
    pub tax: Decimal,
    /// What Stripe charges.
    pub total: Decimal,
}

/// The tax on `amount` (the caller's amount, in minor units already). Exclusive: the tax is added
/// on top (`amount` is the net). Inclusive: `amount` is the price the customer pays and the tax
/// is computed out of it (`tax = amount * p / (100 + p)`).
pub fn split(amount: Decimal, currency: Currency, rate: Option<&Rate>) -> Split {
    let Some(rate) = rate else {
        return Split { net: amount, tax: Decimal::ZERO, total: amount };
    };
    let hundred = Decimal::ONE_HUNDRED;
    if rate.inclusive {
        let tax = round_tax(amount * rate.percentage / (hundred + rate.percentage), currency);
        Split { net: amount - tax, tax, total: amount }
    } else {
        let tax = round_tax(amount * rate.percentage / hundred, currency);
        Split { net: amount, tax, total: amount + tax }
    }
}

/// The net part of `refunded` (cumulative, tax included) of a payment of `total` with `net` of
/// revenue: proportional, half-up, and exactly `net` once everything is refunded. Taken from the
/// cumulative total so that the parts of successive partial refunds add up to the net exactly.
pub fn net_of_refunded(refunded: Decimal, net: Decimal, total: Decimal, currency: Currency) -> Decimal {
    if total <= Decimal::ZERO || refunded >= total {
        return net;
    }
    if refunded <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    round_tax(refunded * net / total, currency).clamp(Decimal::ZERO, net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn usd() -> Currency {
        "USD".parse().unwrap()
    }
    fn rate(p: &str, inclusive: bool) -> Rate {
        Rate { percentage: dec(p), inclusive }
    }
    fn business<'a>(country: &'a str, vat: &'a str) -> Customer<'a> {
        Customer { country, business: true, vat_id: Some(vat) }
    }

    #[test]
    fn exclusive_tax_is_added_on_top() {
        let s = split(dec("100.00"), usd(), Some(&rate("19", false)));
        assert_eq!((s.net, s.tax, s.total), (dec("100.00"), dec("19.00"), dec("119.00")));
    }

    #[test]
    fn inclusive_tax_is_computed_out_of_the_amount() {
        let s = split(dec("119.00"), usd(), Some(&rate("19", true)));
        assert_eq!((s.net, s.tax, s.total), (dec("100.00"), dec("19.00"), dec("119.00")));
        // 9.99 at 20 % inclusive: 1.665 -> 1.67 (half-up), net 8.32.
        let s = split(dec("9.99"), usd(), Some(&rate("20", true)));
        assert_eq!((s.net, s.tax), (dec("8.32"), dec("1.67")));
    }

    #[test]
    fn tax_rounds_half_up_once_per_invoice() {
        // 0.25 * 10 % = 0.025: half-up gives 0.03 where half-even would give 0.02.
        assert_eq!(split(dec("0.25"), usd(), Some(&rate("10", false))).tax, dec("0.03"));
        assert_eq!(split(dec("0.35"), usd(), Some(&rate("10", false))).tax, dec("0.04"));
        let jpy: Currency = "JPY".parse().unwrap();
        assert_eq!(split(dec("105"), jpy, Some(&rate("10", false))).tax, dec("11"));
    }

    #[test]
    fn no_rate_no_tax_and_zero_rate_zero_tax() {
        let s = split(dec("9.99"), usd(), None);
        assert_eq!((s.net, s.tax, s.total), (dec("9.99"), Decimal::ZERO, dec("9.99")));
        assert_eq!(split(dec("9.99"), usd(), Some(&rate("0", false))).tax, dec("0.00"));
    }

    /// Property-style: for every amount from 0.01 to 100.00 and a spread of rates, both modes
    /// split exactly (net + tax = total), in minor units, with tax never negative nor above the
    /// amount, and the inclusive tax of an exclusive total gives back the exclusive tax within
    /// one minor unit.
    #[test]
    fn splits_are_exact_for_every_cent_and_rate() {
        let rates = ["0", "2.5", "5", "7.7", "10", "16", "19", "20", "21", "25", "27", "99.9999"];
        for cents in 1..=10_000i64 {
            let amount = Decimal::new(cents, 2);
            for p in rates {
                for inclusive in [false, true] {
                    let s = split(amount, usd(), Some(&rate(p, inclusive)));
                    assert_eq!(s.net + s.tax, s.total, "{amount} at {p} inclusive={inclusive}");
                    assert!(s.tax >= Decimal::ZERO && s.tax <= s.total, "{amount} at {p}");
                    assert!(s.tax.scale() <= 2 && s.net.scale() <= 2, "{amount} at {p}: {s:?}");
                    assert_eq!(if inclusive { s.total } else { s.net }, amount);
                }
                let ex = split(amount, usd(), Some(&rate(p, false)));
                let back = split(ex.total, usd(), Some(&rate(p, true)));
                assert!((back.tax - ex.tax).abs() <= dec("0.01"), "{amount} at {p}: {ex:?} vs {back:?}");
            }
        }
    }

    #[test]
    fn refund_parts_add_up_to_the_net_exactly() {
        let (net, total) = (dec("100.00"), dec("119.00"));
        assert_eq!(net_of_refunded(dec("119.00"), net, total, usd()), net);
        assert_eq!(net_of_refunded(dec("59.50"), net, total, usd()), dec("50.00"));
        assert_eq!(net_of_refunded(Decimal::ZERO, net, total, usd()), Decimal::ZERO);
        // Three partial refunds of 0.01, 50.00 and the rest: the per-refund parts (differences of
        // the cumulative parts) sum to the net.
        let steps = [dec("0.01"), dec("50.01"), dec("119.00")];
        let mut before = Decimal::ZERO;
        let mut sum = Decimal::ZERO;
        for cumulative in steps {
            let now = net_of_refunded(cumulative, net, total, usd());
            assert!(now >= before);
            sum += now - before;
            before = now;
        }
        assert_eq!(sum, net);
    }

    #[test]
    fn vat_ids_are_checked_for_their_format_only() {
        assert!(vat_id_looks_valid("DE", "DE123456789"));
        assert!(vat_id_looks_valid("DE", "de 123.456-789"));
        assert!(!vat_id_looks_valid("DE", "DE12345678"), "too short");
        assert!(!vat_id_looks_valid("DE", "FR123456789"), "another country's prefix");
        assert!(vat_id_looks_valid("FR", "FRXX123456789"));
        assert!(vat_id_looks_valid("NL", "NL123456789B01"));
        assert!(!vat_id_looks_valid("NL", "NL123456789X01"));
        assert!(vat_id_looks_valid("GR", "EL123456789"), "Greece's prefix is EL");
        assert!(!vat_id_looks_valid("GR", "GR123456789"));
        assert!(vat_id_looks_valid("AT", "ATU12345678"));
        assert!(vat_id_looks_valid("IE", "IE1234567WA"));
        assert!(!vat_id_looks_valid("US", "US123456789"), "not an EU country");
        assert!(!vat_id_looks_valid("DE", ""));
    }

    #[test]
    fn reverse_charge_needs_an_eu_business_abroad_with_a_valid_looking_id() {
        let de = Some(rate("19", false));
        let at_rate = Some(rate("20", false));
        assert_eq!(treatment(Some(business("DE", "DE123456789")), "IE", de.clone()), Treatment::ReverseCharge);
        // Same country as the seller: domestic VAT.
        assert_eq!(
            treatment(Some(business("IE", "IE1234567WA")), "IE", Some(rate("23", false))),
            Treatment::Taxed(rate("23", false))
        );
        // A consumer, or a malformed id: the country's rate.
        let consumer = Customer { country: "AT", business: false, vat_id: Some("ATU12345678") };
        assert_eq!(treatment(Some(consumer), "IE", at_rate.clone()), Treatment::Taxed(rate("20", false)));
        assert_eq!(treatment(Some(business("AT", "ATX")), "IE", at_rate.clone()), Treatment::Taxed(rate("20", false)));
        // A seller outside the EU never reverse-charges EU VAT.
        assert_eq!(treatment(Some(business("AT", "ATU12345678")), "US", at_rate), Treatment::Taxed(rate("20", false)));
        // Outside the EU, no rate: untaxed; no billing details: untaxed.
        assert_eq!(treatment(Some(business("US", "123")), "IE", None), Treatment::Untaxed);
        assert_eq!(treatment(None, "IE", de), Treatment::Untaxed);
    }
}
