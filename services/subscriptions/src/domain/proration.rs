//! Upgrade proration, to the second.
//!
//! ```text
//! remaining = period_end - now            (seconds, clamped to [0, period])
//! credit    = old_price * remaining / period     (the unused part of what was paid)
//! cost      = new_price * remaining / period     (the new tier for the rest of the period)
//! charge    = round_half_even(cost - credit, minor unit)
//! ```
//! Both fractions use the same remaining/period ratio, computed in `Decimal` (28 significant
//! digits), and only the result is rounded, so no cent is lost or invented by rounding twice.

use chrono::{DateTime, Utc};
use platform::money::{Currency, Money};
use rust_decimal::Decimal;

fn remaining_ratio(period_start: DateTime<Utc>, period_end: DateTime<Utc>, now: DateTime<Utc>) -> Decimal {
    let period = (period_end - period_start).num_seconds().max(1);
    let remaining = (period_end - now).num_seconds().clamp(0, period);
    Decimal::from(remaining) / Decimal::from(period)
}

pub fn upgrade_charge(
    old_price: Decimal,
    new_price: Decimal,
    currency: Currency,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Money {
    let ratio = remaining_ratio(period_start, period_end, now);
    let credit = old_price * ratio;
    let cost = new_price * ratio;
    let charge = (cost - credit).max(Decimal::ZERO);
    Money::round(charge, currency)
}

/// The invoice's view of an upgrade charge (Stripe's two proration items): a credit for the unused
/// part of the old tier and the new tier for the rest of the period. The credit is rounded on its
/// own and the cost is what remains of the charge, so the two lines add up to the charge exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProrationLines {
    /// Positive: what the unused time of the old tier is worth.
    pub credit: Decimal,
    /// The new tier for the rest of the period: `charge + credit`.
    pub cost: Decimal,
}

pub fn unused_credit(
    old_price: Decimal,
    currency: Currency,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Money {
    Money::round(old_price * remaining_ratio(period_start, period_end, now), currency)
}

pub fn proration_lines(charge: Decimal, credit: Decimal) -> ProrationLines {
    ProrationLines { credit, cost: charge + credit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::period::next_period_end;
    use chrono::{Datelike, Duration, TimeZone};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn charge(start: DateTime<Utc>, now: DateTime<Utc>) -> Decimal {
        let end = next_period_end(start, start.day());
        upgrade_charge(d("9.99"), d("99"), Currency::USD, start, end, now).amount
    }

    #[test]
    fn first_second_charges_the_full_difference_last_second_nothing() {
        for (y, m) in [(2026, 2), (2028, 2), (2026, 4), (2026, 1)] {
            // 28-, 29-, 30- and 31-day months.
            let start = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().expect("date");
            let end = next_period_end(start, 1);
            assert_eq!(charge(start, start), d("89.01"), "{y}-{m} first second");
            assert_eq!(charge(start, end), d("0.00"), "{y}-{m} at the end");
            // One second before the end: a fraction of a cent, rounded half-even.
            let secs = (end - start).num_seconds();
            let expected = (d("89.01") / Decimal::from(secs))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven);
            assert_eq!(charge(start, end - Duration::seconds(1)), expected, "{y}-{m} last second");
        }
    }

    #[test]
    fn middle_of_the_period() {
        // 30-day April: exactly half way.
        let start = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).single().expect("date");
        assert_eq!(charge(start, start + Duration::days(15)), d("44.50")); // 44.505 -> half-even 44.50
                                                                           // 28-day February, 7 days in: 21/28 of 89.01 = 66.7575 -> 66.76
        let feb = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).single().expect("date");
        assert_eq!(charge(feb, feb + Duration::days(7)), d("66.76"));
        // 31-day January, 10 days in: 21/31 of 89.01 = 60.2974... -> 60.30
        let jan = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
        assert_eq!(charge(jan, jan + Duration::days(10)), d("60.30"));
    }

    #[test]
    fn never_negative_and_clamped_outside_the_period() {
        let start = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).single().expect("date");
        let end = next_period_end(start, 1);
        let down = upgrade_charge(d("99"), d("9.99"), Currency::USD, start, end, start);
        assert_eq!(down.amount, d("0.00"));
        assert_eq!(charge(start, start - Duration::days(3)), d("89.01"));
        assert_eq!(charge(start, end + Duration::days(3)), d("0.00"));
    }

    #[test]
    fn the_proration_lines_add_up_to_the_charge() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
        let end = next_period_end(start, 1);
        for days in [0, 1, 10, 15, 30] {
            let now = start + Duration::days(days);
            let charged = upgrade_charge(d("9.99"), d("99"), Currency::USD, start, end, now).amount;
            let credit = unused_credit(d("9.99"), Currency::USD, start, end, now).amount;
            let lines = proration_lines(charged, credit);
            assert_eq!(lines.cost - lines.credit, charged, "{days} days in");
        }
        // 31-day January, 10 days in: 21/31 of 9.99 = 6.7674... -> 6.77 unused; 60.30 charged.
        let now = start + Duration::days(10);
        let credit = unused_credit(d("9.99"), Currency::USD, start, end, now).amount;
        assert_eq!(credit, d("6.77"));
        assert_eq!(proration_lines(d("60.30"), credit), ProrationLines { credit: d("6.77"), cost: d("67.07") });
    }
}
