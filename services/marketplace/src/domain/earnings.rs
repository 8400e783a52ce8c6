//! Earnings states and the rules that move lines between them.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

pub const PENDING: &str = "pending";
pub const AVAILABLE: &str = "available";
pub const IN_PAYOUT: &str = "in_payout";
pub const PAID: &str = "paid";
pub const STATUSES: &[&str] = &[PENDING, AVAILABLE, IN_PAYOUT, PAID];

/// When a sale made at `at` stops being refundable and its earnings become available.
pub fn matures_at(at: DateTime<Utc>, refund_window_days: i64) -> DateTime<Utc> {
    at + Duration::days(refund_window_days)
}

/// A reversal line follows its sale while the sale is still pending (they mature together);
/// once the sale was available or paid out, the reversal is an available negative adjustment
/// that the next payout nets off.
pub fn reversal_status(
    sale_status: &str,
    sale_available_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (&'static str, DateTime<Utc>) {
    if sale_status == PENDING {
        (PENDING, sale_available_at)
    } else {
        (AVAILABLE, now)
    }
}

/// A payout is allowed when the net available balance reaches the minimum.
pub fn may_pay_out(balance: Decimal, minimum: Decimal) -> bool {
    balance > Decimal::ZERO && balance >= minimum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversal_follows_a_pending_sale_else_is_available_now() {
        let now = Utc::now();
        let later = now + Duration::days(10);
        assert_eq!(reversal_status(PENDING, later, now), (PENDING, later));
        assert_eq!(reversal_status(AVAILABLE, later, now), (AVAILABLE, now));
        assert_eq!(reversal_status(PAID, later, now), (AVAILABLE, now));
    }

    #[test]
    fn payout_minimum() {
        assert!(may_pay_out(Decimal::from(50), Decimal::from(50)));
        assert!(!may_pay_out(Decimal::new(4999, 2), Decimal::from(50)));
        assert!(!may_pay_out(Decimal::from(-3), Decimal::from(-5)));
    }
}
