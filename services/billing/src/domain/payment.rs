//! What a Stripe notification may do to a payment. Stripe does not promise delivery order, so a
//! late or duplicate notification must never move a payment backwards.

/// Stripe PaymentIntent statuses, as stored.
pub const SUCCEEDED: &str = "succeeded";
pub const CANCELED: &str = "canceled";
pub const REQUIRES_PAYMENT_METHOD: &str = "requires_payment_method";

/// The stored name of a PaymentIntent status. A status newer than this code knows is "processing":
/// not settled, so nothing downstream acts on it.
pub fn status_name(status: stripe::PaymentIntentStatus) -> &'static str {
    use stripe::PaymentIntentStatus as S;
    match status {
        S::RequiresPaymentMethod => REQUIRES_PAYMENT_METHOD,
        S::RequiresConfirmation => "requires_confirmation",
        S::RequiresAction => "requires_action",
        S::Processing | S::Unknown => "processing",
        S::RequiresCapture => "requires_capture",
        S::Canceled => CANCELED,
        S::Succeeded => SUCCEEDED,
    }
}

/// The stored name of a refund status.
pub fn refund_status_name(status: stripe::RefundStatus) -> &'static str {
    use stripe::RefundStatus as S;
    match status {
        S::Pending | S::Unknown => "pending",
        S::Succeeded => "succeeded",
        S::Failed => "failed",
        S::Canceled => "canceled",
        S::RequiresAction => "requires_action",
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Apply the new status (and its side effects: receipt, history, event).
    Apply,
    /// Nothing to do: already there, or the news is older than what we know.
    Ignore,
}

/// `payment_intent.succeeded`: applies unless already succeeded. Success is final for a
/// PaymentIntent (refunds do not change its status), so it wins over anything but itself.
pub fn on_succeeded(current: &str) -> Decision {
    if current == SUCCEEDED {
        Decision::Ignore
    } else {
        Decision::Apply
    }
}

/// `payment_intent.payment_failed`: an attempt failed. Ignored once the payment succeeded or was
/// canceled (a late failure never downgrades it); otherwise the payment awaits another method.
pub fn on_failed(current: &str) -> Decision {
    if current == SUCCEEDED || current == CANCELED {
        Decision::Ignore
    } else {
        Decision::Apply
    }
}

/// A `payment_intent.succeeded` must be for what we asked: Stripe's `amount_received` (minor
/// units) and currency (lower-case there, upper-case here) equal our record. Anything else (an
/// intent changed in the dashboard, a bug, a forged object that passed the signature) is refused.
pub fn received_matches(
    expected_minor: i64,
    expected_currency: &str,
    received_minor: i64,
    received_currency: &str,
) -> bool {
    expected_minor == received_minor && expected_currency.trim().eq_ignore_ascii_case(received_currency.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_amount_and_currency_must_match() {
        assert!(received_matches(2000, "USD", 2000, "usd"));
        assert!(!received_matches(2000, "USD", 1999, "usd"));
        assert!(!received_matches(2000, "USD", 2000, "eur"));
        assert!(!received_matches(2000, "USD", 0, "usd"));
    }

    #[test]
    fn late_failure_never_downgrades_success() {
        assert_eq!(on_failed(SUCCEEDED), Decision::Ignore);
        assert_eq!(on_failed(CANCELED), Decision::Ignore);
        assert_eq!(on_failed("requires_confirmation"), Decision::Apply);
        assert_eq!(on_failed(REQUIRES_PAYMENT_METHOD), Decision::Apply);
    }

    #[test]
    fn success_applies_once_even_after_a_failed_attempt() {
        assert_eq!(on_succeeded(REQUIRES_PAYMENT_METHOD), Decision::Apply);
        assert_eq!(on_succeeded("processing"), Decision::Apply);
        assert_eq!(on_succeeded(SUCCEEDED), Decision::Ignore);
    }
}
