//! What outstanding tokens are worth: the liability at catalogue value. Each currency is valued on
//! its own (never converted): at the best value per token among the active items priced in it,
//! because that is the most the tokens could cost the platform if every holder redeemed them there.

use platform::money::{Currency, Money};
use rust_decimal::Decimal;

/// An active catalogue item with its money value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub item: String,
    /// Tokens it costs (> 0).
    pub cost: i64,
    pub value: Money,
}

/// The liability in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liability {
    /// The item that sets the value per token.
    pub item: String,
    pub cost: i64,
    pub value: Money,
    /// `tokens * value / cost`, rounded half-even to the currency's minor unit once, at the end.
    pub amount: Money,
}

/// One valuation per currency that has a priced item, in currency order.
pub fn at_catalogue_value(tokens: i64, items: &[Priced]) -> Vec<Liability> {
    let mut best: Vec<&Priced> = Vec::new();
    for item in items.iter().filter(|i| i.cost > 0) {
        match best.iter_mut().find(|b| b.value.currency == item.value.currency) {
            // Compare value per token without dividing: a/b > c/d <=> a*d > c*b (costs are positive).
            Some(b) if item.value.amount * Decimal::from(b.cost) > b.value.amount * Decimal::from(item.cost) => {
                *b = item
            }
            Some(_) => {}
            None => best.push(item),
        }
    }
    best.sort_by(|a, b| a.value.currency.code().cmp(b.value.currency.code()));
    best.into_iter().map(|b| value(tokens, b)).collect()
}

fn value(tokens: i64, item: &Priced) -> Liability {
    let currency: Currency = item.value.currency;
    let amount = Money::round(Decimal::from(tokens) * item.value.amount / Decimal::from(item.cost), currency);
    Liability { item: item.item.clone(), cost: item.cost, value: item.value, amount }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn priced(item: &str, cost: i64, value: &str, currency: &str) -> Priced {
        let currency = Currency::from_str(currency).expect("currency");
        Priced {
            item: item.into(),
            cost,
            value: Money::new(Decimal::from_str(value).expect("decimal"), currency).expect("money"),
        }
    }

    #[test]
    fn the_richest_item_per_token_sets_the_value() {
        // 9.99 / 1000 = 0.00999 per token; 5.00 / 300 = 0.01666.. per token: the voucher wins.
        let items = [priced("pro_month", 1000, "9.99", "USD"), priced("course_voucher", 300, "5.00", "USD")];
        let l = at_catalogue_value(1000, &items);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].item, "course_voucher");
        // 1000 * 5 / 300 = 16.666.. -> 16.67
        assert_eq!(l[0].amount.amount, Decimal::from_str("16.67").unwrap());
    }

    #[test]
    fn rounding_is_half_even_once_at_the_end() {
        // 3 tokens at 0.01 per 2 tokens = 0.015 -> 0.02 (half to even); 1 token = 0.005 -> 0.00.
        let items = [priced("x", 2, "0.01", "USD")];
        assert_eq!(at_catalogue_value(3, &items)[0].amount.amount, Decimal::from_str("0.02").unwrap());
        assert_eq!(at_catalogue_value(1, &items)[0].amount.amount, Decimal::from_str("0.00").unwrap());
    }

    #[test]
    fn each_currency_is_valued_on_its_own() {
        let items =
            [priced("usd", 100, "1.00", "USD"), priced("eur", 100, "2.00", "EUR"), priced("jpy", 10, "150", "JPY")];
        let l = at_catalogue_value(250, &items);
        let codes: Vec<&str> = l.iter().map(|x| x.amount.currency.code()).collect();
        assert_eq!(codes, ["EUR", "JPY", "USD"]);
        assert_eq!(l[0].amount.amount, Decimal::from_str("5.00").unwrap());
        assert_eq!(l[1].amount.amount, Decimal::from_str("3750").unwrap());
        assert_eq!(l[2].amount.amount, Decimal::from_str("2.50").unwrap());
    }

    #[test]
    fn no_tokens_no_liability_and_no_priced_items_no_rows() {
        let items = [priced("usd", 100, "1.00", "USD")];
        assert!(at_catalogue_value(0, &items)[0].amount.amount.is_zero());
        assert!(at_catalogue_value(1000, &[]).is_empty());
    }
}
