//! Earning rules (the numbers live in the `earning_rules` table) and clawback shares.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

pub const COURSE_PURCHASED: &str = "course_purchased";
/// A free course "purchase": a rule (and daily cap, 0 by default) of its own, so free enrolments
/// cannot be farmed for tokens.
pub const COURSE_ENROLLED_FREE: &str = "course_enrolled_free";
pub const REVIEW_POSTED: &str = "review_posted";
pub const SUBSCRIPTION_RENEWED: &str = "subscription_renewed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub fixed_tokens: i64,
    pub tokens_per_unit: i64,
    pub unit_currency: Option<String>,
    pub daily_cap: Option<i64>,
    pub active: bool,
}

impl Rule {
    /// Tokens one occurrence earns before the daily cap; `spent` is what was paid, if anything.
    pub fn tokens_for(&self, spent: Option<(Decimal, &str)>) -> i64 {
        if !self.active {
            return 0;
        }
        let per_unit = match (spent, self.unit_currency.as_deref()) {
            (Some((amount, currency)), Some(unit)) if currency.trim() == unit.trim() && amount > Decimal::ZERO => {
                amount.floor().to_i64().unwrap_or(0).saturating_mul(self.tokens_per_unit)
            }
            _ => 0,
        };
        self.fixed_tokens.saturating_add(per_unit)
    }
}

/// The rule a course purchase earns by: paid and free ones are counted (and capped) apart.
pub fn purchase_rule(gross: Decimal) -> &'static str {
    if gross > Decimal::ZERO {
        COURSE_PURCHASED
    } else {
        COURSE_ENROLLED_FREE
    }
}

/// Tokens of a purchase that should have been clawed back once `refunded` of `gross` is refunded:
/// all of them once the buyer's access ended (every full refund, and every partial one but an
/// admin's goodwill gesture: the purchase no longer stands), else proportional to the money given
/// back (rounded down, in the user's favour), as the tokens were earned per unit paid.
pub fn clawback_target(tokens: i64, gross: Decimal, refunded: Decimal, access_ended: bool) -> i64 {
    if access_ended || gross <= Decimal::ZERO || refunded >= gross {
        return tokens;
    }
    let share = (Decimal::from(tokens) * refunded / gross).floor();
    share.to_i64().unwrap_or(tokens).clamp(0, tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fixed: i64, per_unit: i64, cap: Option<i64>) -> Rule {
        Rule {
            id: COURSE_PURCHASED.into(),
            description: "Course purchased".into(),
            fixed_tokens: fixed,
            tokens_per_unit: per_unit,
            unit_currency: Some("USD".into()),
            daily_cap: cap,
            active: true,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn fixed_plus_whole_units_in_the_rule_currency_only() {
        let r = rule(10, 1, None);
        assert_eq!(r.tokens_for(Some((d("49.99"), "USD"))), 59);
        assert_eq!(r.tokens_for(Some((d("5000"), "JPY"))), 10, "a yen is not a dollar");
        assert_eq!(r.tokens_for(Some((d("0"), "USD"))), 10);
        assert_eq!(r.tokens_for(None), 10);
        assert_eq!(Rule { active: false, ..r }.tokens_for(None), 0);
    }

    #[test]
    fn free_purchases_earn_by_a_rule_of_their_own() {
        assert_eq!(purchase_rule(d("0")), COURSE_ENROLLED_FREE);
        assert_eq!(purchase_rule(d("0.01")), COURSE_PURCHASED);
    }

    #[test]
    fn clawback_takes_all_once_access_ended() {
        assert_eq!(clawback_target(59, d("49.99"), d("10.00"), true), 59);
        assert_eq!(clawback_target(59, d("49.99"), d("10.00"), false), 11, "goodwill: proportional");
    }

    #[test]
    fn clawback_is_proportional_until_full() {
        assert_eq!(clawback_target(60, d("50.00"), d("25.00"), false), 30);
        assert_eq!(clawback_target(59, d("49.99"), d("10.00"), false), 11);
        assert_eq!(clawback_target(59, d("49.99"), d("20.00"), true), 59);
        assert_eq!(clawback_target(59, d("49.99"), d("49.99"), false), 59);
        assert_eq!(clawback_target(10, d("0"), d("0"), false), 10, "a free course refund takes all");
    }
}
