//! Coupons: what a coupon takes off a charge, and which charges its duration covers. Pure rules,
//! no IO; the store keeps the coupon and the discount a subscription holds.

use chrono::{DateTime, Months, Utc};
use platform::money::{Currency, Money};
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

/// How long a discount lasts once applied to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    /// The next period charged (and its dunning retries), nothing after.
    Once,
    /// Periods that start within N months of the redemption.
    Repeating(u32),
    Forever,
}

impl Duration {
    pub fn parse(kind: &str, months: Option<i32>) -> Result<Self, &'static str> {
        match (kind, months) {
            ("once", None) => Ok(Self::Once),
            ("forever", None) => Ok(Self::Forever),
            ("repeating", Some(n)) if (1..=120).contains(&n) => Ok(Self::Repeating(n as u32)),
            ("repeating", _) => Err("`repeating` needs duration_in_months between 1 and 120"),
            ("once" | "forever", Some(_)) => Err("duration_in_months is only for `repeating`"),
            _ => Err("duration must be `once`, `repeating` or `forever`"),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Repeating(_) => "repeating",
            Self::Forever => "forever",
        }
    }
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

/// Whether a subscription's discount covers the charge for the period starting at `period_start`.
/// `applied_at`: when the code was redeemed; `once_period`: the period a `once` discount was first
/// used on (its retries are the same charge, later periods are not covered).
pub fn covers(
    duration: Duration,
    applied_at: DateTime<Utc>,
    once_period: Option<DateTime<Utc>>,
    period_start: DateTime<Utc>,
) -> bool {
    match duration {
        Duration::Once => once_period.is_none_or(|p| p == period_start),
        Duration::Repeating(n) => applied_at.checked_add_months(Months::new(n)).is_none_or(|end| period_start < end),
        Duration::Forever => true,
    }
}

/// Whether a discount is part of the recurring price of the periods it discounts: what MRR counts
/// (net of discounts, as Stripe's MRR) and what an upgrade within such a period is prorated on.
/// A `once` discount is not: it is one charge's discount (like a proration, never MRR), spent on
/// the first charge, so neither MRR nor a later proration in its period gets it (Stripe applies a
/// `once` coupon to one invoice).
pub fn recurring(duration: Duration) -> bool {
    duration != Duration::Once
}

/// When a discount stops covering new periods (`None`: never, or after its single use).
pub fn ends_at(duration: Duration, applied_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match duration {
        Duration::Repeating(n) => applied_at.checked_add_months(Months::new(n)),
        _ => None,
    }
}

/// Why a promotion code cannot be redeemed (checked before the counters are taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Inactive,
    Expired,
    TierNotEligible,
    CurrencyNotCovered,
    NotFirstPurchase,
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Inactive => "this promotion code is not active",
            Self::Expired => "this promotion code has expired",
            Self::TierNotEligible => "this promotion code does not apply to this tier",
            Self::CurrencyNotCovered => "this promotion code has no amount in this currency",
            Self::NotFirstPurchase => "this promotion code is for a first subscription only",
        }
    }
}

/// The facts a redemption is judged on.
pub struct Eligibility<'a> {
    pub now: DateTime<Utc>,
    pub code_active: bool,
    pub code_expires_at: Option<DateTime<Utc>>,
    pub coupon_active: bool,
    pub coupon_expires_at: Option<DateTime<Utc>>,
    /// `None`: every tier.
    pub tiers: Option<&'a [String]>,
    pub tier: &'a str,
    pub off: &'a Off,
    pub currency: Currency,
    pub first_purchase_only: bool,
    /// The user has paid for a subscription before.
    pub has_paid_before: bool,
}

/// Whether a code may be redeemed now (the redemption limits are taken separately, atomically).
pub fn eligible(e: &Eligibility<'_>) -> Result<(), Refusal> {
    if !e.code_active || !e.coupon_active {
        return Err(Refusal::Inactive);
    }
    let expired = |at: Option<DateTime<Utc>>| at.is_some_and(|t| t <= e.now);
    if expired(e.code_expires_at) || expired(e.coupon_expires_at) {
        return Err(Refusal::Expired);
    }
    if e.tiers.is_some_and(|t| !t.iter().any(|x| x == e.tier)) {
        return Err(Refusal::TierNotEligible);
    }
    if let Off::Amount(amounts) = e.off {
        if !amounts.contains_key(e.currency.code()) {
            return Err(Refusal::CurrencyNotCovered);
        }
    }
    if e.first_purchase_only && e.has_paid_before {
        return Err(Refusal::NotFirstPurchase);
    }
    Ok(())
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
    use chrono::TimeZone;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn money(s: &str, c: &str) -> Money {
        Money::new(d(s), c.parse().expect("currency")).expect("money")
    }

    #[test]
    fn repeating_and_forever_discounts_are_recurring_a_once_discount_is_not() {
        assert!(recurring(Duration::Forever));
        assert!(recurring(Duration::Repeating(3)));
        assert!(!recurring(Duration::Once));
    }

    fn at(y: i32, m: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, 10, 0, 0).single().expect("date")
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
    fn durations_cover_the_periods_they_promise() {
        let applied = at(2026, 1, 31);
        // Once: the first period it is used on, and that period's retries only.
        assert!(covers(Duration::Once, applied, None, at(2026, 2, 28)));
        assert!(covers(Duration::Once, applied, Some(at(2026, 2, 28)), at(2026, 2, 28)));
        assert!(!covers(Duration::Once, applied, Some(at(2026, 2, 28)), at(2026, 3, 31)));
        // Repeating 3 months from Jan 31: periods starting before Apr 30 (month-end clamped).
        let three = Duration::Repeating(3);
        assert!(covers(three, applied, None, applied));
        assert!(covers(three, applied, None, at(2026, 3, 31)));
        assert!(!covers(three, applied, None, at(2026, 4, 30)));
        assert_eq!(ends_at(three, applied), Some(at(2026, 4, 30)));
        assert!(covers(Duration::Forever, applied, None, at(2036, 1, 31)));
        assert_eq!(ends_at(Duration::Forever, applied), None);
    }

    #[test]
    fn durations_parse_strictly() {
        assert_eq!(Duration::parse("once", None), Ok(Duration::Once));
        assert_eq!(Duration::parse("repeating", Some(3)), Ok(Duration::Repeating(3)));
        assert!(Duration::parse("repeating", None).is_err());
        assert!(Duration::parse("repeating", Some(0)).is_err());
        assert!(Duration::parse("forever", Some(2)).is_err());
        assert!(Duration::parse("weekly", None).is_err());
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
    fn eligibility_checks_state_expiry_tier_currency_and_first_purchase() {
        let tiers = vec!["pro".to_string()];
        let off = amounts(&[("USD", "5.00")]);
        let base = || Eligibility {
            now: at(2026, 1, 10),
            code_active: true,
            code_expires_at: None,
            coupon_active: true,
            coupon_expires_at: Some(at(2026, 2, 1)),
            tiers: Some(&tiers),
            tier: "pro",
            off: &off,
            currency: Currency::USD,
            first_purchase_only: true,
            has_paid_before: false,
        };
        assert_eq!(eligible(&base()), Ok(()));
        assert_eq!(eligible(&Eligibility { code_active: false, ..base() }), Err(Refusal::Inactive));
        assert_eq!(eligible(&Eligibility { coupon_active: false, ..base() }), Err(Refusal::Inactive));
        assert_eq!(eligible(&Eligibility { now: at(2026, 2, 1), ..base() }), Err(Refusal::Expired));
        assert_eq!(eligible(&Eligibility { code_expires_at: Some(at(2026, 1, 9)), ..base() }), Err(Refusal::Expired));
        assert_eq!(eligible(&Eligibility { tier: "enterprise", ..base() }), Err(Refusal::TierNotEligible));
        assert_eq!(eligible(&Eligibility { tiers: None, tier: "enterprise", ..base() }), Ok(()));
        let eur: Currency = "EUR".parse().expect("eur");
        assert_eq!(eligible(&Eligibility { currency: eur, ..base() }), Err(Refusal::CurrencyNotCovered));
        assert_eq!(eligible(&Eligibility { has_paid_before: true, ..base() }), Err(Refusal::NotFirstPurchase));
        assert_eq!(eligible(&Eligibility { has_paid_before: true, first_purchase_only: false, ..base() }), Ok(()));
    }

    #[test]
    fn the_line_says_what_was_taken_off() {
        assert_eq!(describe("spring", &Off::Percent(d("50.00")), Currency::USD), "SPRING (50% off)");
        assert_eq!(describe("five", &amounts(&[("USD", "5")]), Currency::USD), "FIVE (5.00 USD off)");
    }
}
