//! Course promotion codes: who may use one on which purchase, and how a discounted sale splits.
//! What a code takes off the price is `platform::discount`, the rule subscriptions' coupons use.

use crate::domain::split::{split, Shares};
use chrono::{DateTime, Utc};
use platform::discount::Off;
use platform::money::{Currency, Money};
use rust_decimal::Decimal;
use uuid::Uuid;

pub const PLATFORM: &str = "platform";
pub const INSTRUCTOR: &str = "instructor";

/// Why a code cannot be used on a purchase (checked before its redemption is taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Inactive,
    Expired,
    NotForThisCourse,
    CurrencyNotCovered,
    NotFirstPurchase,
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Inactive => "this promotion code is not active",
            Self::Expired => "this promotion code has expired",
            Self::NotForThisCourse => "this promotion code does not apply to this course",
            Self::CurrencyNotCovered => "this promotion code has no amount in this currency",
            Self::NotFirstPurchase => "this promotion code is for a first purchase only",
        }
    }
}

/// The facts a use of a code is judged on.
pub struct Eligibility<'a> {
    pub now: DateTime<Utc>,
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// `None`: any course (platform codes only; an instructor's code always names courses).
    pub course_ids: Option<&'a [Uuid]>,
    /// `None`: any category.
    pub categories: Option<&'a [String]>,
    /// The funding instructor of an instructor's code: it never covers another's course.
    pub funder: Option<Uuid>,
    pub course_id: Uuid,
    pub category: &'a str,
    pub course_instructor: Uuid,
    pub off: &'a Off,
    pub currency: Currency,
    pub first_purchase_only: bool,
    pub has_bought_before: bool,
}

pub fn eligible(e: &Eligibility<'_>) -> Result<(), Refusal> {
    if !e.active {
        return Err(Refusal::Inactive);
    }
    if e.expires_at.is_some_and(|t| t <= e.now) {
        return Err(Refusal::Expired);
    }
    let course_ok = e.course_ids.is_none_or(|ids| ids.contains(&e.course_id));
    let category_ok = e.categories.is_none_or(|cs| cs.iter().any(|c| c == e.category));
    if !course_ok || !category_ok || e.funder.is_some_and(|f| f != e.course_instructor) {
        return Err(Refusal::NotForThisCourse);
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
    use chrono::TimeZone;
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
    fn eligibility_checks_state_expiry_scope_owner_currency_and_first_purchase() {
        let (course, other, instructor) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let ids = [course];
        let cats = ["programming".to_string()];
        let off = Off::Amount([("USD".to_string(), d("5"))].into());
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().expect("date");
        let base = || Eligibility {
            now,
            active: true,
            expires_at: Some(now + chrono::Duration::days(1)),
            course_ids: Some(&ids),
            categories: None,
            funder: Some(instructor),
            course_id: course,
            category: "programming",
            course_instructor: instructor,
            off: &off,
            currency: Currency::USD,
            first_purchase_only: true,
            has_bought_before: false,
        };
        assert_eq!(eligible(&base()), Ok(()));
        assert_eq!(eligible(&Eligibility { active: false, ..base() }), Err(Refusal::Inactive));
        assert_eq!(eligible(&Eligibility { expires_at: Some(now), ..base() }), Err(Refusal::Expired));
        assert_eq!(eligible(&Eligibility { course_id: other, ..base() }), Err(Refusal::NotForThisCourse));
        assert_eq!(
            eligible(&Eligibility { course_instructor: Uuid::now_v7(), ..base() }),
            Err(Refusal::NotForThisCourse),
            "an instructor's code never covers another's course"
        );
        assert_eq!(
            eligible(&Eligibility { course_ids: None, funder: None, categories: Some(&cats), ..base() }),
            Ok(())
        );
        assert_eq!(
            eligible(&Eligibility {
                course_ids: None,
                funder: None,
                categories: Some(&cats),
                category: "design",
                ..base()
            }),
            Err(Refusal::NotForThisCourse)
        );
        let eur: Currency = "EUR".parse().expect("eur");
        assert_eq!(eligible(&Eligibility { currency: eur, ..base() }), Err(Refusal::CurrencyNotCovered));
        assert_eq!(eligible(&Eligibility { has_bought_before: true, ..base() }), Err(Refusal::NotFirstPurchase));
    }
}
