//! Discounts a promotion code or coupon takes off a price: what subscriptions' coupons and the
//! marketplace's course promotion codes share (what comes off, the waived remainder, the checks of
//! a discount's terms and codes, who may use one, the guarded redemption counter, and the line a
//! charge prints). What a code is scoped to (courses and categories, tiers) stays with its service.

use crate::money::{Currency, Money};
use crate::Problem;
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

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

/// Check what a new code or coupon takes off: a valid `percent_off`, or else amounts on their
/// currencies' minor units, never both. The amounts come back keyed by currency code.
pub fn check_off(
    percent_off: Option<Decimal>,
    amount_off: &BTreeMap<String, Decimal>,
) -> Result<BTreeMap<String, Decimal>, Problem> {
    match (percent_off, amount_off.is_empty()) {
        (Some(p), true) if valid_percent(p) => {}
        (Some(_), true) => return Err(Problem::field("percent_off", "must be above 0 and at most 100 (4 decimals)")),
        (None, false) => {}
        _ => return Err(Problem::field("percent_off", "give either percent_off or amount_off, not both")),
    }
    let mut amounts = BTreeMap::new();
    for (code, amount) in amount_off {
        let currency: Currency = code.parse().map_err(|e: String| Problem::field("amount_off", e))?;
        if !valid_amount(*amount, currency) {
            // The message starts with the rule (the API test's hook matches the prefix).
            let message = format!("must be positive, on the currency's minor unit ({currency})");
            return Err(Problem::field("amount_off", message));
        }
        amounts.insert(currency.code().to_string(), *amount);
    }
    Ok(amounts)
}

/// Check a new code's or coupon's limits: at least one redemption, an expiry in the future.
pub fn check_limits(
    max_redemptions: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    if max_redemptions.is_some_and(|m| m < 1) {
        return Err(Problem::field("max_redemptions", "must be at least 1"));
    }
    if expires_at.is_some_and(|at| at <= now) {
        return Err(Problem::field("expires_at", "must be in the future"));
    }
    Ok(())
}

/// Why a code cannot be used (checked before its redemption is taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Inactive,
    Expired,
    /// Not for what is bought (a course, a category, a tier).
    OutOfScope,
    CurrencyNotCovered,
    NotFirstPurchase,
}

impl Refusal {
    /// The refusal in words; the two that depend on what is sold are the caller's.
    pub fn message(&self, out_of_scope: &'static str, not_first: &'static str) -> &'static str {
        match self {
            Self::Inactive => "this promotion code is not active",
            Self::Expired => "this promotion code has expired",
            Self::OutOfScope => out_of_scope,
            Self::CurrencyNotCovered => "this promotion code has no amount in this currency",
            Self::NotFirstPurchase => not_first,
        }
    }
}

/// The facts a use of a code is judged on.
pub struct Eligibility<'a> {
    pub now: DateTime<Utc>,
    /// False when the code, or what it belongs to (a coupon), is deactivated.
    pub active: bool,
    /// The code's expiry and its parents' (a coupon's): any one past refuses.
    pub expires_at: &'a [Option<DateTime<Utc>>],
    /// Whether the code's restrictions (courses, categories, tiers) cover what is bought.
    pub in_scope: bool,
    pub off: &'a Off,
    pub currency: Currency,
    pub first_purchase_only: bool,
    /// The buyer completed a purchase (paid for a subscription) before.
    pub has_bought_before: bool,
}

/// Whether a code may be used now, in this order: state, expiry, scope, currency, first purchase.
/// The redemption limits are taken separately, atomically ([`take_redemption`]).
pub fn eligible(e: &Eligibility<'_>) -> Result<(), Refusal> {
    if !e.active {
        return Err(Refusal::Inactive);
    }
    if e.expires_at.iter().any(|at| at.is_some_and(|t| t <= e.now)) {
        return Err(Refusal::Expired);
    }
    if !e.in_scope {
        return Err(Refusal::OutOfScope);
    }
    if let Off::Amount(amounts) = e.off {
        if !amounts.contains_key(e.currency.code()) {
            return Err(Refusal::CurrencyNotCovered);
        }
    }
    if e.first_purchase_only && e.has_bought_before {
        return Err(Refusal::NotFirstPurchase);
    }
    Ok(())
}

/// A table counting redemptions: columns `id uuid`, `redeemed int` and `max_redemptions int`
/// (null: no limit). A constant of the caller's schema, never input.
#[derive(Debug, Clone, Copy)]
pub struct Counter(pub &'static str);

/// Take one redemption of row `id` in `counter`, never beyond its limit: one guarded UPDATE
/// re-checks `redeemed < max_redemptions` after waiting for a concurrent redeemer's row lock, so
/// concurrent uses queue on the row and the last ones find it full. `false`: the limit is reached
/// (the caller rolls back).
pub async fn take_redemption(conn: &mut AsyncPgConnection, counter: Counter, id: Uuid) -> QueryResult<bool> {
    let sql = format!(
        "UPDATE {} SET redeemed = redeemed + 1 WHERE id = $1 AND (max_redemptions IS NULL OR redeemed < max_redemptions)",
        counter.0
    );
    let n = diesel::sql_query(sql).bind::<diesel::sql_types::Uuid, _>(id).execute(conn).await?;
    Ok(n == 1)
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
    fn terms_are_checked() {
        let none = BTreeMap::new();
        assert!(check_off(Some(d("25")), &none).is_ok());
        let usd: BTreeMap<String, Decimal> = [("usd".to_string(), d("5.00"))].into();
        assert_eq!(check_off(None, &usd).expect("amounts"), [("USD".to_string(), d("5.00"))].into());
        let field = |r: Result<BTreeMap<String, Decimal>, Problem>| r.expect_err("refused").errors[0].field.clone();
        assert_eq!(field(check_off(None, &none)), "percent_off", "neither");
        assert_eq!(field(check_off(Some(d("5")), &usd)), "percent_off", "both");
        assert_eq!(field(check_off(Some(d("101")), &none)), "percent_off");
        assert_eq!(field(check_off(None, &[("USD".to_string(), d("5.001"))].into())), "amount_off");
        assert_eq!(field(check_off(None, &[("XXX".to_string(), d("5"))].into())), "amount_off");
        let now = Utc::now();
        assert!(check_limits(Some(1), Some(now + chrono::Duration::seconds(1)), now).is_ok());
        assert_eq!(check_limits(Some(0), None, now).expect_err("0").errors[0].field, "max_redemptions");
        assert_eq!(check_limits(None, Some(now), now).expect_err("now").errors[0].field, "expires_at");
    }

    #[test]
    fn eligibility_checks_state_expiry_scope_currency_and_first_purchase_in_order() {
        let now = Utc::now();
        let off = amounts(&[("USD", "5")]);
        let later = [Some(now + chrono::Duration::days(1)), None];
        let eur: Currency = "EUR".parse().expect("eur");
        let base = || Eligibility {
            now,
            active: true,
            expires_at: &later,
            in_scope: true,
            off: &off,
            currency: Currency::USD,
            first_purchase_only: true,
            has_bought_before: false,
        };
        assert_eq!(eligible(&base()), Ok(()));
        let everything_wrong = Eligibility { in_scope: false, currency: eur, has_bought_before: true, ..base() };
        assert_eq!(eligible(&Eligibility { active: false, ..everything_wrong }), Err(Refusal::Inactive));
        let past = [None, Some(now)];
        assert_eq!(eligible(&Eligibility { expires_at: &past, ..base() }), Err(Refusal::Expired), "a parent's expiry");
        assert_eq!(eligible(&Eligibility { in_scope: false, ..base() }), Err(Refusal::OutOfScope));
        assert_eq!(eligible(&Eligibility { currency: eur, ..base() }), Err(Refusal::CurrencyNotCovered));
        assert_eq!(eligible(&Eligibility { has_bought_before: true, ..base() }), Err(Refusal::NotFirstPurchase));
        assert_eq!(eligible(&Eligibility { first_purchase_only: false, has_bought_before: true, ..base() }), Ok(()));
    }

    #[test]
    fn the_line_says_what_was_taken_off() {
        assert_eq!(describe("spring", &Off::Percent(d("50.00")), Currency::USD), "SPRING (50% off)");
        assert_eq!(describe("five", &amounts(&[("USD", "5")]), Currency::USD), "FIVE (5.00 USD off)");
    }
}
