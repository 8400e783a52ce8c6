//! What a reward voucher does to a purchase's price. Vouchers are owned by rewards; marketplace
//! only learns a reserved voucher's value and applies it here.

use platform::money::Money;
use rust_decimal::Decimal;

/// The buyer's side of a voucher purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkout {
    /// Off the list price: the voucher's value (at most the price), plus a waived remainder.
    pub discount: Money,
    /// What billing charges; zero completes the purchase at once, like a free course.
    pub amount_paid: Money,
    /// The remainder was below Stripe's minimum charge: the platform waives it (the buyer pays
    /// nothing) rather than refusing the voucher or charging an amount Stripe cannot take.
    pub waived: bool,
}

/// Apply a voucher worth `value` (same currency, checked by rewards) to the list price `list`.
pub fn checkout(list: Money, value: Money) -> Checkout {
    let currency = list.currency;
    let covered = value.amount.clamp(Decimal::ZERO, list.amount);
    let remainder = list.amount - covered;
    if remainder > Decimal::ZERO && remainder < currency.minimum_charge().amount {
        return Checkout { discount: list, amount_paid: Money::zero(currency), waived: true };
    }
    Checkout {
        discount: Money::round(covered, currency),
        amount_paid: Money::round(remainder, currency),
        waived: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::money::Currency;
    use std::str::FromStr;

    fn usd(s: &str) -> Money {
        Money::new(Decimal::from_str(s).expect("decimal"), Currency::USD).expect("money")
    }

    #[test]
    fn the_voucher_comes_off_the_price_and_a_tiny_remainder_is_waived() {
        let c = checkout(usd("19.99"), usd("5.00"));
        assert_eq!((c.discount, c.amount_paid, c.waived), (usd("5.00"), usd("14.99"), false));
        let covered = checkout(usd("4.00"), usd("5.00"));
        assert_eq!((covered.discount, covered.amount_paid, covered.waived), (usd("4.00"), usd("0.00"), false));
        let exact = checkout(usd("5.00"), usd("5.00"));
        assert_eq!((exact.discount, exact.amount_paid), (usd("5.00"), usd("0.00")));
        // 0.49 left: below the 0.50 USD minimum, waived.
        let waived = checkout(usd("5.49"), usd("5.00"));
        assert_eq!((waived.discount, waived.amount_paid, waived.waived), (usd("5.49"), usd("0.00"), true));
        // 0.50 left: charged.
        let minimum = checkout(usd("5.50"), usd("5.00"));
        assert_eq!((minimum.amount_paid, minimum.waived), (usd("0.50"), false));
    }
}
