//! What a purchase does when its payment succeeds or is refunded, and why a payment is voided.
//! Statuses are the store's (`pending`, `completed`, `failed`, `refunded`); a failed purchase is
//! either still payable (a declined card: the buyer may retry the same PaymentIntent) or closed
//! (its payment voided, so it never completes).

pub const PENDING: &str = "pending";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";
pub const REFUNDED: &str = "refunded";

/// `reason` codes of `marketplace.payment.void_requested.v1`.
pub const PURCHASE_EXPIRED: &str = "purchase_expired";
pub const PURCHASE_SUPERSEDED: &str = "purchase_superseded";
pub const ALREADY_OWNED: &str = "already_owned";
/// A voucher purchase whose payment was declined: closed at once so its voucher comes back.
pub const PAYMENT_FAILED: &str = "payment_failed";
/// `reason` of `marketplace.voucher.released.v1` when a refund ended the buyer's access.
pub const REFUNDED_REASON: &str = "refunded";

/// What to do when billing reports the purchase's payment succeeded.
#[derive(Debug, PartialEq, Eq)]
pub enum OnPaid {
    /// Grant access and book the split.
    Complete,
    /// The buyer started another purchase of the course that is still pending: this one is paid,
    /// so it completes and the other is closed (its payment voided).
    CompleteSupersedingOther,
    /// The money is not needed: ask billing to void (refund) it, grant nothing.
    Void(&'static str),
    /// Already completed or refunded: a duplicate.
    Ignore,
}

/// `status`/`closed` describe the paid purchase, `other_live` the status of the buyer's other
/// pending or completed purchase of the same course, if any.
pub fn on_paid(status: &str, closed: Option<&str>, other_live: Option<&str>) -> OnPaid {
    if status == COMPLETED || status == REFUNDED {
        return OnPaid::Ignore;
    }
    if let Some(reason) = closed {
        // Billing was already told to void this payment and will refund it when it succeeds:
        // completing it now would grant a course whose money goes back.
        return OnPaid::Void(void_reason(reason));
    }
    match other_live {
        Some(COMPLETED) => OnPaid::Void(ALREADY_OWNED),
        Some(_) => OnPaid::CompleteSupersedingOther,
        None => OnPaid::Complete,
    }
}

/// A stored close reason as one of the event's codes (unknown ones pass through a known code).
fn void_reason(closed: &str) -> &'static str {
    match closed {
        PURCHASE_EXPIRED => PURCHASE_EXPIRED,
        ALREADY_OWNED => ALREADY_OWNED,
        PAYMENT_FAILED => PAYMENT_FAILED,
        _ => PURCHASE_SUPERSEDED,
    }
}

/// What a refund of the purchase's payment does.
#[derive(Debug, PartialEq, Eq)]
pub enum OnRefund {
    /// Reverse the shares for the new total; end access if asked to.
    Apply,
    /// The success it refunds has not been applied here yet: retry later.
    NotYetCompleted,
    /// A voided payment refunded by billing: nothing was granted, nothing to undo.
    Ignore,
}

pub fn on_refund(status: &str, closed: Option<&str>) -> OnRefund {
    match (status, closed) {
        (COMPLETED | REFUNDED, _) => OnRefund::Apply,
        (_, Some(_)) => OnRefund::Ignore,
        _ => OnRefund::NotYetCompleted,
    }
}

/// The status after a refund: access ends when billing says so (every refund but a partial
/// goodwill one), when all is refunded, and never comes back once it ended.
pub fn status_after_refund(current: &str, ends_access: bool, fully_refunded: bool) -> &'static str {
    if ends_access || fully_refunded || current == REFUNDED {
        REFUNDED
    } else {
        COMPLETED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payable_purchase_completes_once() {
        assert_eq!(on_paid(PENDING, None, None), OnPaid::Complete);
        assert_eq!(on_paid(FAILED, None, None), OnPaid::Complete, "declined, then paid with another card");
        assert_eq!(on_paid(COMPLETED, None, None), OnPaid::Ignore);
        assert_eq!(on_paid(REFUNDED, None, None), OnPaid::Ignore);
    }

    #[test]
    fn a_payment_nobody_can_use_is_voided() {
        assert_eq!(on_paid(FAILED, None, Some(COMPLETED)), OnPaid::Void(ALREADY_OWNED));
        assert_eq!(on_paid(FAILED, Some(PURCHASE_SUPERSEDED), Some(COMPLETED)), OnPaid::Void(PURCHASE_SUPERSEDED));
        assert_eq!(on_paid(FAILED, Some(PURCHASE_SUPERSEDED), Some(PENDING)), OnPaid::Void(PURCHASE_SUPERSEDED));
        assert_eq!(on_paid(FAILED, Some(PURCHASE_EXPIRED), None), OnPaid::Void(PURCHASE_EXPIRED));
        assert_eq!(on_paid(FAILED, Some("superseded"), None), OnPaid::Void(PURCHASE_SUPERSEDED));
        assert_eq!(
            on_paid(FAILED, Some(PAYMENT_FAILED), None),
            OnPaid::Void(PAYMENT_FAILED),
            "a declined voucher purchase"
        );
        assert_eq!(on_paid(FAILED, None, Some(PENDING)), OnPaid::CompleteSupersedingOther);
    }

    #[test]
    fn refunds_wait_for_the_success_unless_the_payment_was_voided() {
        assert_eq!(on_refund(COMPLETED, None), OnRefund::Apply);
        assert_eq!(on_refund(REFUNDED, None), OnRefund::Apply);
        assert_eq!(on_refund(PENDING, None), OnRefund::NotYetCompleted);
        assert_eq!(on_refund(FAILED, None), OnRefund::NotYetCompleted);
        assert_eq!(on_refund(FAILED, Some(ALREADY_OWNED)), OnRefund::Ignore);
    }

    #[test]
    fn access_ends_unless_a_partial_refund_keeps_it() {
        assert_eq!(status_after_refund(COMPLETED, true, false), REFUNDED, "a partial refund the buyer asked for");
        assert_eq!(status_after_refund(COMPLETED, false, false), COMPLETED, "partial goodwill");
        assert_eq!(status_after_refund(COMPLETED, false, true), REFUNDED);
        assert_eq!(status_after_refund(REFUNDED, false, false), REFUNDED, "goodwill after access ended");
    }
}
