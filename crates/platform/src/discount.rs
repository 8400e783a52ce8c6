//! Discounts a promotion code or coupon takes off a price: the pure rules subscriptions' coupons
//! and the marketplace's course promotion codes share (what comes off, the waived remainder, the
//! checks of percentages, amounts and codes, and the line a charge prints).

use crate::money::{Currency, Money};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// What a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Off {
    /// A percentage of the price, `0 < p <= 100`.
    Percent(Decimal),
    /// A fixed amount per currency; a charge in a currency the map lacks gets no discount.
    Amount(BTreeMap<String, Decimal>),
}

/// Check a percentage: `0 < p <= 100`, at most 4 decimal places (the column's scale).
pub fn valid_percent(p: Decimal) -> bool {
    p > Decimal::ZERO && p <= Decimal::ONE_HUNDRED && p.normalize().scale() <= 4
}

/// Check an amount off: positive and on the currency's minor unit.
pub fn valid_amount(amount: Decimal, currency: Currency) -> bool {
    amount > Decimal::ZERO && Money::new(amount, currency).is_ok()
}

/// A discount priced on one charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    /// Off the list price: never negative, never above it.
    pub discount: Money,
    /// What is charged: `price - discount`.
    pub net: Money,
}

/// What `off` takes from `price`, rounded half-even to the currency's minor unit and clamped to
/// `0..=price`. `None` when the coupon has no amount in the price's currency. A remainder above
/// zero but below Stripe's minimum charge cannot be charged at all: it is waived (the same rule as
/// reward vouchers in the marketplace), so such a charge costs nothing.
pub fn price(price: Money, off: &Off) -> Option<Priced> {
    let currency = price.currency;
    let raw = match off {
        Off::Percent(p) => price.amount * *p / Decimal::ONE_HUNDRED,
        Off::Amount(amounts) => *amounts.get(currency.code())?,
    };
    let discount = Money::round(raw, currency).amount.clamp(Decimal::ZERO, price.amount);
    let mut net = price.amount - discount;
    let mut discount = discount;
    if net > Decimal::ZERO && net < currency.minimum_charge().amount && discount > Decimal::ZERO {
        discount = price.amount;
        net = Decimal::ZERO;
    }
    Some(Priced { discount: Money::round(discount, currency), net: Money::round(net, currency) })
}

/// A customer-facing code: 3-40 letters, digits, `-` or `_`; compared case-insensitively.
pub fn valid_code(code: &str) -> bool {
    (3..=40).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The discount line's text on a charge, e.g. `SPRING (50% off)`.
pub fn describe(code: &str, off: &Off, currency: Currency) -> String {
    match off {
        Off::Percent(p) => format!("{} ({}% off)", code.to_ascii_uppercase(), p.normalize()),
        Off::Amount(amounts) => {
            let amount = amounts.get(currency.code()).copied().unwrap_or_default();
            format!("{} ({} off)", code.to_ascii_uppercase(), Money::round(amount, currency))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn money(s: &str, c: &str) -> Money {
        Money::new(d(s), c.parse().expect("currency")).expect("money")
    }

    fn amounts(pairs: &[(&str, &str)]) -> Off {
        Off::Amount(pairs.iter().map(|(c, a)| (c.to_string(), d(a))).collect())
    }

    #[test]
    fn percent_off_rounds_half_even_to_the_minor_unit() {
        // 9.99 * 50 % = 4.995 -> 5.00 (half to even: 4.99|5 -> 5.00), net 4.99.
        let p = price(money("9.99", "USD"), &Off::Percent(d("50"))).expect("priced");
        assert_eq!((p.discount, p.net), (money("5.00", "USD"), money("4.99", "USD")));
        // 9.99 * 15 % = 1.4985 -> 1.50.
        let p = price(money("9.99", "USD"), &Off::Percent(d("15"))).expect("priced");
        assert_eq!((p.discount, p.net), (money("1.50", "USD"), money("8.49", "USD")));
        // 99.00 * 33.3333 % = 32.99997 -> 33.00.
        let p = price(money("99.00", "USD"), &Off::Percent(d("33.3333"))).expect("priced");
        assert_eq!(p.discount.amount + p.net.amount, d("99.00"));
        assert_eq!(p.discount, money("33.00", "USD"));
        // JPY has no minor unit.
        let p = price(money("1005", "JPY"), &Off::Percent(d("50"))).expect("priced");
        assert_eq!((p.discount.amount, p.net.amount), (d("502"), d("503")));
    }

    #[test]
    fn a_full_discount_charges_nothing_and_never_more_than_the_price() {
        let p = price(money("9.99", "USD"), &Off::Percent(d("100"))).expect("priced");
        assert_eq!((p.discount, p.net), (money("9.99", "USD"), money("0.00", "USD")));
        let p = price(money("9.99", "USD"), &amounts(&[("USD", "25.00")])).expect("priced");
        assert_eq!((p.discount, p.net), (money("9.99", "USD"), money("0.00", "USD")));
    }

    #[test]
    fn a_remainder_below_the_minimum_charge_is_waived() {
        // 9.99 - 9.60 = 0.39 < 0.50: waived.
        let p = price(money("9.99", "USD"), &amounts(&[("USD", "9.60")])).expect("priced");
        assert_eq!((p.discount, p.net), (money("9.99", "USD"), money("0.00", "USD")));
        // 0.50 left: charged.
        let p = price(money("9.99", "USD"), &amounts(&[("USD", "9.49")])).expect("priced");
        assert_eq!(p.net, money("0.50", "USD"));
    }

    #[test]
    fn amount_off_is_per_currency() {
        let off = amounts(&[("USD", "5.00"), ("EUR", "4.50")]);
        assert_eq!(price(money("9.99", "USD"), &off).expect("usd").net, money("4.99", "USD"));
        assert_eq!(price(money("9.00", "EUR"), &off).expect("eur").net, money("4.50", "EUR"));
        assert_eq!(price(money("49.90", "BRL"), &off), None, "no BRL amount: no discount");
    }

    #[test]
    fn property_discount_and_net_add_up_and_stay_in_range() {
        let mut seed = 0x5eed_u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..20_000 {
            let currency: Currency = ["USD", "EUR", "GBP", "BRL", "JPY"][next(5) as usize].parse().expect("c");
            let list = Money::from_minor_units(next(2_000_000) as i64, currency);
            let off = if next(2) == 0 {
                Off::Percent(Decimal::new(1 + next(1_000_000) as i64, 4))
            } else {
                Off::Amount(
                    [(
                        currency.code().to_string(),
                        Money::from_minor_units(1 + next(3_000_000) as i64, currency).amount,
                    )]
                    .into(),
                )
            };
            let p = price(list, &off).expect("priced");
            assert_eq!(p.discount.amount + p.net.amount, list.amount, "{list} {off:?}");
            assert!(p.discount.amount >= Decimal::ZERO && p.net.amount >= Decimal::ZERO);
            assert!(p.discount.amount <= list.amount);
            assert!(Money::new(p.net.amount, currency).is_ok(), "net on the minor unit");
            assert!(
                p.net.amount.is_zero()
                    || p.net.amount >= currency.minimum_charge().amount
                    || p.discount.amount.is_zero()
            );
        }
    }

    #[test]
    fn percentages_and_codes_are_checked() {
        assert!(valid_percent(d("100")) && valid_percent(d("0.0001")) && valid_percent(d("12.5")));
        assert!(!valid_percent(d("0")) && !valid_percent(d("100.01")) && !valid_percent(d("-5")));
        assert!(!valid_percent(d("10.00001")));
        assert!(valid_amount(d("5.00"), Currency::USD) && !valid_amount(d("5.001"), Currency::USD));
        assert!(!valid_amount(d("0"), Currency::USD));
        assert!(valid_code("SPRING-50") && valid_code("abc") && !valid_code("ab") && !valid_code("no spaces"));
    }

    #[test]
    fn the_line_says_what_was_taken_off() {
        assert_eq!(describe("spring", &Off::Percent(d("50.00")), Currency::USD), "SPRING (50% off)");
        assert_eq!(describe("five", &amounts(&[("USD", "5")]), Currency::USD), "FIVE (5.00 USD off)");
    }
}
