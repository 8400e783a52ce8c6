//! What a payment for one of our charges does, and what a refund of one does: pure rules, so the
//! cases where money must go back are decided in one place.

use super::lifecycle::Status;
use chrono::{DateTime, Utc};

/// Why subscriptions asks billing to void a payment (`subscriptions.payment.void_requested.v1`).
pub mod void_reason {
    /// The subscription was canceled (now, at the period end, by dunning or by a refund).
    pub const SUBSCRIPTION_CANCELED: &str = "subscription_canceled";
    /// The first payment was not made in time: the subscription expired.
    pub const SUBSCRIPTION_EXPIRED: &str = "subscription_expired";
    /// A second payment for a charge already paid.
    pub const DUPLICATE_PAYMENT: &str = "duplicate_payment";
    /// A renewal payment for a period another payment already renewed.
    pub const PERIOD_ALREADY_PAID: &str = "period_already_paid";
    /// An upgrade paid after the subscription changed tier or period.
    pub const UPGRADE_NOT_APPLICABLE: &str = "upgrade_not_applicable";
    /// A payment for a subscription that is paused: it takes no money until it resumes.
    pub const SUBSCRIPTION_PAUSED: &str = "subscription_paused";
}

/// Why a closed subscription's payments are voided.
pub fn close_reason(status: Status) -> &'static str {
    if status == Status::IncompleteExpired {
        void_reason::SUBSCRIPTION_EXPIRED
    } else {
        void_reason::SUBSCRIPTION_CANCELED
    }
}

/// The facts a successful payment is judged on.
#[derive(Debug, Clone, Copy)]
pub struct Paid<'a> {
    /// `initial` | `renewal` | `upgrade`
    pub kind: &'a str,
    pub status: Status,
    /// The period the charge was made for (renewals, upgrades); `None` on old rows.
    pub charge_period_end: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    /// Ranks of the subscription's tier and of the charge's tier (upgrades).
    pub current_rank: i32,
    pub charge_rank: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first payment: the subscription becomes active.
    Activate,
    /// A renewal: the next period starts.
    Renew,
    /// A prorated upgrade: the tier changes now.
    Upgrade,
    /// The subscription can no longer use the money: billing must give it back.
    Void(&'static str),
}

/// What a payment that succeeded for a charge not yet paid does.
pub fn on_paid(p: Paid<'_>) -> Verdict {
    if !p.status.is_live() {
        return Verdict::Void(close_reason(p.status));
    }
    if p.status == Status::Paused {
        // Nothing is due while paused; the resume charge is made after the status is active again.
        return Verdict::Void(void_reason::SUBSCRIPTION_PAUSED);
    }
    let same_period = p.charge_period_end.is_none() || p.charge_period_end == p.current_period_end;
    match p.kind {
        "initial" if p.status == Status::Incomplete => Verdict::Activate,
        // Already active: another payment activated it.
        "initial" => Verdict::Void(void_reason::DUPLICATE_PAYMENT),
        "renewal" if p.status == Status::Incomplete => Verdict::Void(void_reason::DUPLICATE_PAYMENT),
        "renewal" if same_period => Verdict::Renew,
        "renewal" => Verdict::Void(void_reason::PERIOD_ALREADY_PAID),
        "upgrade" if p.status == Status::Active && same_period && p.charge_rank > p.current_rank => Verdict::Upgrade,
        _ => Verdict::Void(void_reason::UPGRADE_NOT_APPLICABLE),
    }
}

/// What a refund of one of our charges' payments does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEffect {
    /// The charge is not known here as paid yet (the success event is on its way): try later.
    NotYetPaid,
    /// Access ends now: the subscription is canceled.
    Cancel,
    /// Nothing changes: a partial goodwill refund, a refund of money we had already given back
    /// (a voided or duplicate payment), or a subscription already closed.
    Nothing,
}

/// Policy (docs/api.md, "Refunds of subscription charges"): a refund that ends access
/// (`ends_access`, contract R) of the payment that paid one of the subscription's charges cancels
/// the subscription at once; any other refund changes nothing.
pub fn on_refunded(charge_status: &str, paid_by_this_payment: bool, ends_access: bool, status: Status) -> RefundEffect {
    match charge_status {
        "pending" | "failed" => RefundEffect::NotYetPaid,
        "succeeded" if paid_by_this_payment && ends_access && status.is_live() => RefundEffect::Cancel,
        _ => RefundEffect::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single()
    }

    fn paid(kind: &str, status: Status) -> Paid<'_> {
        Paid { kind, status, charge_period_end: t(10), current_period_end: t(10), current_rank: 1, charge_rank: 2 }
    }

    #[test]
    fn a_first_payment_activates_an_incomplete_subscription_only() {
        assert_eq!(on_paid(paid("initial", Status::Incomplete)), Verdict::Activate);
        assert_eq!(on_paid(paid("initial", Status::Canceled)), Verdict::Void("subscription_canceled"));
        assert_eq!(on_paid(paid("initial", Status::IncompleteExpired)), Verdict::Void("subscription_expired"));
        assert_eq!(on_paid(paid("initial", Status::Active)), Verdict::Void("duplicate_payment"));
    }

    #[test]
    fn a_renewal_renews_its_own_period_only() {
        assert_eq!(on_paid(paid("renewal", Status::Active)), Verdict::Renew);
        assert_eq!(on_paid(paid("renewal", Status::PastDue)), Verdict::Renew);
        let late = Paid { current_period_end: t(20), ..paid("renewal", Status::Active) };
        assert_eq!(on_paid(late), Verdict::Void("period_already_paid"));
        let old_row = Paid { charge_period_end: None, current_period_end: t(20), ..paid("renewal", Status::Active) };
        assert_eq!(on_paid(old_row), Verdict::Renew);
        assert_eq!(on_paid(paid("renewal", Status::Canceled)), Verdict::Void("subscription_canceled"));
    }

    #[test]
    fn an_upgrade_applies_only_to_the_active_subscription_it_was_priced_for() {
        assert_eq!(on_paid(paid("upgrade", Status::Active)), Verdict::Upgrade);
        let moved = Paid { current_period_end: t(20), ..paid("upgrade", Status::Active) };
        assert_eq!(on_paid(moved), Verdict::Void("upgrade_not_applicable"));
        let done = Paid { current_rank: 2, ..paid("upgrade", Status::Active) };
        assert_eq!(on_paid(done), Verdict::Void("upgrade_not_applicable"));
        assert_eq!(on_paid(paid("upgrade", Status::PastDue)), Verdict::Void("upgrade_not_applicable"));
        assert_eq!(on_paid(paid("upgrade", Status::Canceled)), Verdict::Void("subscription_canceled"));
    }

    #[test]
    fn a_paused_subscription_takes_no_payment() {
        for kind in ["initial", "renewal", "upgrade"] {
            assert_eq!(on_paid(paid(kind, Status::Paused)), Verdict::Void("subscription_paused"), "{kind}");
        }
    }

    #[test]
    fn refunds_end_access_only_for_the_paying_payment_of_a_live_subscription() {
        use RefundEffect::*;
        assert_eq!(on_refunded("succeeded", true, true, Status::Active), Cancel);
        assert_eq!(on_refunded("succeeded", true, true, Status::PastDue), Cancel);
        assert_eq!(on_refunded("succeeded", true, false, Status::Active), Nothing, "partial goodwill");
        assert_eq!(on_refunded("succeeded", false, true, Status::Active), Nothing, "a duplicate's refund");
        assert_eq!(on_refunded("voided", true, true, Status::Canceled), Nothing, "money given back on purpose");
        assert_eq!(on_refunded("succeeded", true, true, Status::Canceled), Nothing, "already closed");
        assert_eq!(on_refunded("pending", true, true, Status::Incomplete), NotYetPaid);
        assert_eq!(on_refunded("failed", true, true, Status::PastDue), NotYetPaid);
    }
}
