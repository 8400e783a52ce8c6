//! Who may refund what, how much, why, and what a refund does to the buyer's access.
//!
//! The policy (issue 14, contract R): a buyer's self-service refund is of their own course purchase,
//! inside the refund window, in full (what is left), always for `requested_by_customer`. Admins
//! refund any amount of any payment, for `requested_by_customer`, `duplicate`, `fraudulent` or
//! `goodwill`. Every refund ends access except a *partial* `goodwill` one: that is the only way to
//! give money back and let the buyer keep what they paid for.

use chrono::{DateTime, Duration, Utc};
use events::catalog::billing::{RefundInitiator, RefundReason};
use rust_decimal::Decimal;

#[derive(Debug, PartialEq, Eq)]
pub enum RefundDenied {
    NotSucceeded,
    Forbidden,
    WindowClosed,
    ExceedsRemaining {
        remaining: Decimal,
    },
    NotPositive,
    /// A buyer asked for less than what is left: self-service refunds are full only.
    PartialNotAllowed {
        remaining: Decimal,
    },
    /// The caller may not refund for this reason (a buyer: anything but `requested_by_customer`;
    /// anyone through the API: `unfulfillable`, which only billing itself uses).
    ReasonNotAllowed(RefundReason),
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

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub id: uuid::Uuid,
    pub is_admin: bool,
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

/// The whole API policy: who, why, and how much. Returns the amount to refund.
pub fn plan(
    p: &Refundable<'_>,
    caller: Caller,
    requested: Option<Decimal>,
    reason: RefundReason,
    now: DateTime<Utc>,
    window_days: i64,
) -> Result<Decimal, RefundDenied> {
    may_refund(p, caller.id, caller.is_admin, now, window_days)?;
    let allowed = match reason {
        RefundReason::RequestedByCustomer => true,
        RefundReason::Duplicate | RefundReason::Fraudulent | RefundReason::Goodwill => caller.is_admin,
        RefundReason::Unfulfillable => false,
    };
    if !allowed {
        return Err(RefundDenied::ReasonNotAllowed(reason));
    }
    let amount = refund_amount(p, requested)?;
    let remaining = p.captured - p.already_refunded;
    if !caller.is_admin && amount != remaining {
        return Err(RefundDenied::PartialNotAllowed { remaining });
    }
    Ok(amount)
}

/// Contract R: a refund ends access unless it is a partial `goodwill` refund.
pub fn ends_access(reason: RefundReason, fully_refunded: bool) -> bool {
    fully_refunded || reason != RefundReason::Goodwill
}

/// `requested_by` of refunds made outside our API (Stripe's dashboard).
pub const REQUESTED_BY_STRIPE: &str = "stripe";

/// Who asked, from the refund row's `requested_by`: the buyer's id, `system` (or `system:<what>`)
/// for billing's own refunds, [`REQUESTED_BY_STRIPE`] (or no row at all) for the dashboard; any
/// other principal is an admin.
pub fn initiated_by(requested_by: Option<&str>, buyer: uuid::Uuid) -> RefundInitiator {
    match requested_by {
        None | Some(REQUESTED_BY_STRIPE) => RefundInitiator::Stripe,
        Some(who) if who == "system" || who.starts_with("system:") => RefundInitiator::System,
        Some(who) if who == buyer.to_string() => RefundInitiator::Buyer,
        Some(_) => RefundInitiator::Admin,
    }
}

/// The reason of a refund made in Stripe's dashboard: ours when its metadata names one (a refund
/// our API made but whose row is gone), else Stripe's own, else `goodwill`, the dashboard's usual
/// purpose (a partial goodwill refund keeps access, so an unexplained dashboard refund does not
/// take away what the buyer paid for unless it is full).
pub fn reason_of_stripe_refund(stripe: Option<stripe::RefundReason>, metadata_reason: Option<&str>) -> RefundReason {
    if let Some(ours) = metadata_reason.and_then(RefundReason::parse) {
        return ours;
    }
    match stripe {
        Some(stripe::RefundReason::Duplicate) => RefundReason::Duplicate,
        Some(stripe::RefundReason::Fraudulent) => RefundReason::Fraudulent,
        Some(stripe::RefundReason::RequestedByCustomer) => RefundReason::RequestedByCustomer,
        Some(stripe::RefundReason::Other) | None => RefundReason::Goodwill,
    }
}

/// What Stripe is told: it knows only three reasons; `goodwill` and `unfulfillable` are sent
/// without one and kept in the refund's metadata.
pub fn stripe_reason(reason: RefundReason) -> Option<stripe::RefundReason> {
    match reason {
        RefundReason::RequestedByCustomer => Some(stripe::RefundReason::RequestedByCustomer),
        RefundReason::Duplicate => Some(stripe::RefundReason::Duplicate),
        RefundReason::Fraudulent => Some(stripe::RefundReason::Fraudulent),
        RefundReason::Goodwill | RefundReason::Unfulfillable => None,
    }
}

const TERMINAL: [&str; 3] = ["succeeded", "failed", "canceled"];

/// The status to store when Stripe reports `reported` for a refund we hold as `current`, or `None`
/// to keep it. Reports arrive late and out of order, so a settled refund never goes back to
/// pending, and a failed or canceled one stays so; a succeeded refund may still fail (Stripe says
/// a bank can return it later).
pub fn next_refund_status(current: &str, reported: &'static str) -> Option<&'static str> {
    let settled = TERMINAL.contains(&current);
    let reported_settled = TERMINAL.contains(&reported);
    let takes = match (current, reported) {
        _ if current == reported => false,
        ("failed" | "canceled", _) => false,
        _ if settled && !reported_settled => false,
        _ => true,
    };
    takes.then_some(reported)
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

    #[test]
    fn a_buyer_refunds_in_full_only_and_for_their_own_reason() {
        let buyer = uuid::Uuid::now_v7();
        let now = Utc::now();
        let me = Caller { id: buyer, is_admin: false };
        let p = payment(buyer, "0", now);
        let customer = RefundReason::RequestedByCustomer;
        assert_eq!(
            plan(&p, me, Some(d("19.99")), customer, now, 14),
            Err(RefundDenied::PartialNotAllowed { remaining: d("20.00") })
        );
        assert_eq!(plan(&p, me, Some(d("20.00")), customer, now, 14), Ok(d("20.00")));
        assert_eq!(plan(&p, me, None, customer, now, 14), Ok(d("20.00")));
        assert_eq!(
            plan(&p, me, Some(d("20.01")), customer, now, 14),
            Err(RefundDenied::ExceedsRemaining { remaining: d("20.00") })
        );
        for reason in
            [RefundReason::Goodwill, RefundReason::Duplicate, RefundReason::Fraudulent, RefundReason::Unfulfillable]
        {
            assert_eq!(plan(&p, me, None, reason, now, 14), Err(RefundDenied::ReasonNotAllowed(reason)));
        }
        // What is left after an admin's partial refund is the buyer's "full".
        let rest = payment(buyer, "5.00", now);
        assert_eq!(plan(&rest, me, None, customer, now, 14), Ok(d("15.00")));
        assert_eq!(plan(&rest, me, Some(d("15.00")), customer, now, 14), Ok(d("15.00")));
    }

    #[test]
    fn an_admin_refunds_any_amount_for_any_api_reason() {
        let now = Utc::now();
        let admin = Caller { id: uuid::Uuid::now_v7(), is_admin: true };
        let p = payment(uuid::Uuid::now_v7(), "0", now - Duration::days(100));
        for reason in [
            RefundReason::Goodwill,
            RefundReason::Duplicate,
            RefundReason::Fraudulent,
            RefundReason::RequestedByCustomer,
        ] {
            assert_eq!(plan(&p, admin, Some(d("0.01")), reason, now, 14), Ok(d("0.01")));
        }
        assert_eq!(
            plan(&p, admin, None, RefundReason::Unfulfillable, now, 14),
            Err(RefundDenied::ReasonNotAllowed(RefundReason::Unfulfillable))
        );
    }

    #[test]
    fn only_a_partial_goodwill_refund_keeps_access() {
        assert!(!ends_access(RefundReason::Goodwill, false));
        assert!(ends_access(RefundReason::Goodwill, true));
        for reason in [
            RefundReason::RequestedByCustomer,
            RefundReason::Duplicate,
            RefundReason::Fraudulent,
            RefundReason::Unfulfillable,
        ] {
            assert!(ends_access(reason, false), "{reason:?}");
            assert!(ends_access(reason, true), "{reason:?}");
        }
    }

    #[test]
    fn initiator_from_the_row() {
        let buyer = uuid::Uuid::now_v7();
        assert_eq!(initiated_by(Some(&buyer.to_string()), buyer), RefundInitiator::Buyer);
        assert_eq!(initiated_by(Some("system"), buyer), RefundInitiator::System);
        assert_eq!(initiated_by(Some("system:voids"), buyer), RefundInitiator::System);
        assert_eq!(initiated_by(Some(REQUESTED_BY_STRIPE), buyer), RefundInitiator::Stripe);
        assert_eq!(initiated_by(None, buyer), RefundInitiator::Stripe);
        assert_eq!(initiated_by(Some(&uuid::Uuid::now_v7().to_string()), buyer), RefundInitiator::Admin);
        assert_eq!(initiated_by(Some("systematic-admin"), buyer), RefundInitiator::Admin);
    }

    #[test]
    fn dashboard_reasons() {
        assert_eq!(reason_of_stripe_refund(None, None), RefundReason::Goodwill);
        assert_eq!(reason_of_stripe_refund(Some(stripe::RefundReason::Other), None), RefundReason::Goodwill);
        assert_eq!(reason_of_stripe_refund(Some(stripe::RefundReason::Fraudulent), None), RefundReason::Fraudulent);
        assert_eq!(reason_of_stripe_refund(None, Some("unfulfillable")), RefundReason::Unfulfillable);
        assert_eq!(
            reason_of_stripe_refund(Some(stripe::RefundReason::Duplicate), Some("nonsense")),
            RefundReason::Duplicate
        );
        assert_eq!(stripe_reason(RefundReason::Goodwill), None);
        assert_eq!(stripe_reason(RefundReason::Duplicate), Some(stripe::RefundReason::Duplicate));
    }

    #[test]
    fn refund_status_never_goes_back() {
        assert_eq!(next_refund_status("pending", "succeeded"), Some("succeeded"));
        assert_eq!(next_refund_status("pending", "failed"), Some("failed"));
        assert_eq!(next_refund_status("requires_action", "pending"), Some("pending"));
        assert_eq!(next_refund_status("succeeded", "succeeded"), None);
        assert_eq!(next_refund_status("succeeded", "pending"), None);
        assert_eq!(next_refund_status("succeeded", "failed"), Some("failed"));
        assert_eq!(next_refund_status("failed", "succeeded"), None);
        assert_eq!(next_refund_status("canceled", "pending"), None);
    }
}
