//! Coupons: which charges a coupon's duration covers and who may redeem it (what it takes off a
//! charge is `platform::discount`, shared with course promotion codes). Pure rules, no IO; the
//! store keeps the coupon and the discount a subscription holds.

use chrono::{DateTime, Months, Utc};
// The price rules a coupon shares with the marketplace's promotion codes.
pub use platform::discount::{
    check_limits, check_off, describe, eligible, price, valid_code, Eligibility, Off, Priced, Refusal,
};

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

/// A refusal of [`eligible`] in a subscription's words.
pub fn refusal(r: Refusal) -> &'static str {
    r.message("this promotion code does not apply to this tier", "this promotion code is for a first subscription only")
}

/// Whether a coupon restricted to `tiers` (`None`: every tier) applies to `tier`.
pub fn covers_tier(tiers: Option<&[String]>, tier: &str) -> bool {
    tiers.is_none_or(|t| t.iter().any(|x| x == tier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn repeating_and_forever_discounts_are_recurring_a_once_discount_is_not() {
        assert!(recurring(Duration::Forever));
        assert!(recurring(Duration::Repeating(3)));
        assert!(!recurring(Duration::Once));
    }

    fn at(y: i32, m: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, 10, 0, 0).single().expect("date")
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
    fn a_coupon_covers_its_tiers_and_refusals_speak_of_tiers() {
        let tiers = vec!["pro".to_string()];
        assert!(covers_tier(Some(&tiers), "pro"));
        assert!(!covers_tier(Some(&tiers), "enterprise"));
        assert!(covers_tier(None, "enterprise"), "no restriction: every tier");
        assert_eq!(refusal(Refusal::OutOfScope), "this promotion code does not apply to this tier");
        assert_eq!(refusal(Refusal::NotFirstPurchase), "this promotion code is for a first subscription only");
    }
}
