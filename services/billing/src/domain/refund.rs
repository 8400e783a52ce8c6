//! Who may refund what, and how much.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

#[derive(Debug, PartialEq, Eq)]
pub enum RefundDenied {
    NotSucceeded,
    Forbidden,
    WindowClosed,
    ExceedsRemaining { remaining: Decimal },
    NotPositive,
}

/// The facts about a payment that the refund rules need.
pub struct Refundable<'a> {
    pub status: &'a str,
    pub purpose: &'a str,
    pub buyer: uuid::Uuid,
    pub captured: Decimal,
    /// Refunds requested so far (not failed or canceled).
    pub already_refunded: Decimal,
    pub succeeded_at: Option<DateTime<Utc>>,
}

/// Admins refund anything; a buyer refunds their own course purchase within the window.
pub fn may_refund(
    p: &Refundable<'_>,
    caller: uuid::Uuid,
    is_admin: bool,
    now: DateTime<Utc>,
    window_days: i64,
) -> Result<(), RefundDenied> {
    if p.status != super::payment::SUCCEEDED {
        return Err(RefundDenied::NotSucceeded);
    }
    if is_admin {
        return Ok(());
    }
    if caller != p.buyer || p.purpose != "course_purchase" {
        return Err(RefundDenied::Forbidden);
    }
    match p.succeeded_at {
        Some(at) if now <= at + Duration::days(window_days) => Ok(()),
        _ => Err(RefundDenied::WindowClosed),
    }
}

/// The amount to refund: the rest when none is given; never more than what is left.
pub fn refund_amount(p: &Refundable<'_>, requested: Option<Decimal>) -> Result<Decimal, RefundDenied> {
    let remaining = p.captured - p.already_refunded;
    let amount = requested.unwrap_or(remaining);
    if amount <= Decimal::ZERO {
        return Err(if requested.is_none() {
            RefundDenied::ExceedsRemaining { remaining }
        } else {
            RefundDenied::NotPositive
        });
    }
    if amount > remaining {
        return Err(RefundDenied::ExceedsRemaining { remaining });
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn payment(buyer: uuid::Uuid, already: &str, at: DateTime<Utc>) -> Refundable<'static> {
        Refundable {
            status: "succeeded",
            purpose: "course_purchase",
            buyer,
            captured: d("20.00"),
            already_refunded: d(already),
            succeeded_at: Some(at),
        }
    }

    #[test]
    fn partial_refunds_up_to_the_total_then_refused() {
        let buyer = uuid::Uuid::now_v7();
        let p = payment(buyer, "15.00", Utc::now());
        assert_eq!(refund_amount(&p, Some(d("5.00"))), Ok(d("5.00")));
        assert_eq!(refund_amount(&p, None), Ok(d("5.00")));
        assert_eq!(refund_amount(&p, Some(d("5.01"))), Err(RefundDenied::ExceedsRemaining { remaining: d("5.00") }));
        assert_eq!(refund_amount(&p, Some(d("0"))), Err(RefundDenied::NotPositive));
        let full = payment(buyer, "20.00", Utc::now());
        assert!(refund_amount(&full, None).is_err());
    }

    #[test]
    fn buyer_only_within_the_window_admin_always() {
        let buyer = uuid::Uuid::now_v7();
        let now = Utc::now();
        let p = payment(buyer, "0", now - Duration::days(14));
        assert_eq!(may_refund(&p, buyer, false, now, 14), Ok(()));
        assert_eq!(may_refund(&p, buyer, false, now + Duration::seconds(1), 14), Err(RefundDenied::WindowClosed));
        assert_eq!(may_refund(&p, uuid::Uuid::now_v7(), false, now, 14), Err(RefundDenied::Forbidden));
        assert_eq!(may_refund(&p, uuid::Uuid::now_v7(), true, now + Duration::days(400), 14), Ok(()));
        let pending = Refundable { status: "requires_payment_method", ..p };
        assert_eq!(may_refund(&pending, buyer, true, now, 14), Err(RefundDenied::NotSucceeded));
    }
}
