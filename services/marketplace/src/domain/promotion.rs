//! Course promotion codes: who may use one on which purchase, and how a discounted sale splits.
//! What a code takes off the price is `platform::discount`, the rule subscriptions' coupons use.

use crate::domain::split::{split, Shares};
use platform::discount::Refusal;
use platform::money::Money;
use rust_decimal::Decimal;
use uuid::Uuid;

pub const PLATFORM: &str = "platform";
pub const INSTRUCTOR: &str = "instructor";

/// A refusal of `platform::discount::eligible` in a purchase's words.
pub fn refusal(r: Refusal) -> &'static str {
    r.message("this promotion code does not apply to this course", "this promotion code is for a first purchase only")
}

/// What a code is restricted to: its courses (`None`: any; an instructor's code always names
/// them), its categories (`None`: any), and its funding instructor (`None`: the platform).
pub struct Scope<'a> {
    pub course_ids: Option<&'a [Uuid]>,
    pub categories: Option<&'a [String]>,
    pub funder: Option<Uuid>,
}

impl Scope<'_> {
    /// Whether the code covers this course; an instructor's code never covers another's course.
    pub fn covers(&self, course_id: Uuid, category: &str, course_instructor: Uuid) -> bool {
        self.course_ids.is_none_or(|ids| ids.contains(&course_id))
            && self.categories.is_none_or(|cs| cs.iter().any(|c| c == category))
            && self.funder.is_none_or(|f| f == course_instructor)
    }
}

/// The split of a sale discounted by an instructor's code: the platform keeps its part of the
/// LIST price (net of tax), as if no code were used, and the discount comes out of the
/// instructor's share. A discount deeper than the instructor's share cannot make them owe: the
/// platform then takes what was paid, no more.
pub fn split_instructor_funded(list_net: Money, rate: Decimal, net: Money) -> Shares {
    let currency = net.currency;
    let platform = split(list_net, rate).platform.amount.min(net.amount).max(Decimal::ZERO);
    Shares { instructor: Money::round(net.amount - platform, currency), platform: Money::round(platform, currency) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::split::paid_reversal;
    use platform::money::Currency;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn usd(s: &str) -> Money {
        Money::new(d(s), Currency::USD).expect("money")
    }

    #[test]
    fn an_instructor_code_comes_out_of_the_instructors_share_and_reverses_exactly() {
        // 20.00 list, 25 % off: 15.00 paid; the platform keeps 30 % of 20.00 = 6.00.
        let s = split_instructor_funded(usd("20.00"), d("0.70"), usd("15.00"));
        assert_eq!((s.instructor.amount, s.platform.amount), (d("9.00"), d("6.00")));
        // 90 % off: 2.00 paid is less than the platform's 6.00: it takes the 2.00, the instructor 0.
        let s = split_instructor_funded(usd("20.00"), d("0.70"), usd("2.00"));
        assert_eq!((s.instructor.amount, s.platform.amount), (d("0.00"), d("2.00")));
        // A refund in two parts gives back exactly the booked shares.
        let booked = split_instructor_funded(usd("19.99"), d("0.70"), usd("14.99"));
        assert_eq!(booked.instructor.amount + booked.platform.amount, d("14.99"));
        let first = paid_reversal(usd("14.99"), &booked, d("5.00"), &Shares::zero(Currency::USD));
        let rest = paid_reversal(usd("14.99"), &booked, d("14.99"), &first);
        assert_eq!(first.instructor.amount + rest.instructor.amount, booked.instructor.amount);
        assert_eq!(first.platform.amount + rest.platform.amount, booked.platform.amount);
    }

    #[test]
    fn a_scope_covers_its_courses_categories_and_funders_courses_only() {
        let (course, other, instructor) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let ids = [course];
        let cats = ["programming".to_string()];
        let instructors = Scope { course_ids: Some(&ids), categories: None, funder: Some(instructor) };
        assert!(instructors.covers(course, "programming", instructor));
        assert!(!instructors.covers(other, "programming", instructor));
        assert!(
            !instructors.covers(course, "programming", Uuid::now_v7()),
            "an instructor's code never covers another's course"
        );
        let platforms = Scope { course_ids: None, categories: Some(&cats), funder: None };
        assert!(platforms.covers(other, "programming", Uuid::now_v7()));
        assert!(!platforms.covers(other, "design", Uuid::now_v7()));
        assert!(Scope { course_ids: None, categories: None, funder: None }.covers(other, "design", instructor));
        assert_eq!(refusal(Refusal::OutOfScope), "this promotion code does not apply to this course");
    }
}
