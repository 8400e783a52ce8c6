//! Coupons: which charges a coupon's duration covers and who may redeem it (what it takes off a
//! charge is `platform::discount`, shared with course promotion codes). Pure rules, no IO; the
//! store keeps the coupon and the discount a subscription holds.

use chrono::{DateTime, Months, Utc};
use platform::money::Currency;
// The price rules a coupon shares with the marketplace's promotion codes.
pub use platform::discount::{describe, price, valid_amount, valid_code, valid_percent, Off, Priced};

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
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
}
