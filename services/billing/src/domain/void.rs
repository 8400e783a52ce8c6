//! What to do with a payment another service will never use (contract V): cancel the
//! PaymentIntent while no money moved, refund everything once it has, wait while Stripe decides.

use chrono::Duration;

/// The worker's next step for a void, from the PaymentIntent as Stripe has it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No money moved and the intent can still be stopped: cancel it at Stripe.
    Cancel,
    /// The money is captured: refund everything not refunded yet.
    Refund,
    /// Someone (Stripe, a person, an earlier pass) canceled it already: only record that.
    AlreadyCanceled,
    /// Stripe is deciding (`processing`, or a status newer than this code): look again later.
    /// If it succeeds meanwhile, the success path reopens the void at once.
    Wait,
}

pub fn action_for(status: stripe::PaymentIntentStatus) -> Action {
    use stripe::PaymentIntentStatus as S;
    match status {
        S::Succeeded => Action::Refund,
        S::Canceled => Action::AlreadyCanceled,
        S::RequiresPaymentMethod | S::RequiresConfirmation | S::RequiresAction | S::RequiresCapture => Action::Cancel,
        S::Processing | S::Unknown => Action::Wait,
    }
}

/// Stripe's cancellation reason for the requester's code: a second payment for the same thing is
/// a duplicate; anything else (expired, canceled subscription) was abandoned.
pub fn cancellation_reason(void_reason: &str) -> stripe::CancellationReason {
    match void_reason {
        "purchase_superseded" | "already_owned" | "duplicate" => stripe::CancellationReason::Duplicate,
        _ => stripe::CancellationReason::Abandoned,
    }
}

/// The purpose a requester may void: marketplace its course purchases, subscriptions its charges.
/// A request for another service's payment is refused (it would refund money that service uses).
pub fn may_void(source_event_type: &str, payment_purpose: &str) -> bool {
    owns(source_event_type.split('.').next().unwrap_or_default(), payment_purpose)
}

/// The same rule for a synchronous cancel (`POST /internal/payments/{id}/cancel`), by the calling
/// service's token subject (`service:marketplace`).
pub fn may_cancel(service_sub: &str, payment_purpose: &str) -> bool {
    owns(service_sub.strip_prefix("service:").unwrap_or_default(), payment_purpose)
}

fn owns(service: &str, payment_purpose: &str) -> bool {
    matches!((service, payment_purpose), ("marketplace", "course_purchase") | ("subscriptions", "subscription"))
}

/// Delay before the next attempt after `attempts` (>= 1) failed ones: doubling from `base`, at
/// most an hour, so a Stripe outage is ridden out without hammering it.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let cap = Duration::hours(1);
    base.checked_mul(2_i32.saturating_pow(exponent)).map_or(cap, |d| d.min(cap)).max(Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stripe::PaymentIntentStatus as S;

    #[test]
    fn open_intents_are_canceled_captured_ones_refunded() {
        for s in [S::RequiresPaymentMethod, S::RequiresConfirmation, S::RequiresAction, S::RequiresCapture] {
            assert_eq!(action_for(s), Action::Cancel, "{s:?}");
        }
        assert_eq!(action_for(S::Succeeded), Action::Refund);
        assert_eq!(action_for(S::Canceled), Action::AlreadyCanceled);
        assert_eq!(action_for(S::Processing), Action::Wait);
        assert_eq!(action_for(S::Unknown), Action::Wait);
    }

    #[test]
    fn superseded_purchases_are_duplicates() {
        assert_eq!(cancellation_reason("purchase_superseded"), stripe::CancellationReason::Duplicate);
        assert_eq!(cancellation_reason("already_owned"), stripe::CancellationReason::Duplicate);
        assert_eq!(cancellation_reason("purchase_expired"), stripe::CancellationReason::Abandoned);
        assert_eq!(cancellation_reason("subscription_canceled"), stripe::CancellationReason::Abandoned);
        assert_eq!(cancellation_reason("something_new"), stripe::CancellationReason::Abandoned);
    }

    #[test]
    fn a_service_voids_only_its_own_kind_of_payment() {
        assert!(may_void("marketplace.payment.void_requested.v1", "course_purchase"));
        assert!(may_void("subscriptions.payment.void_requested.v1", "subscription"));
        assert!(!may_void("marketplace.payment.void_requested.v1", "subscription"));
        assert!(!may_void("subscriptions.payment.void_requested.v1", "course_purchase"));
        assert!(!may_void("licensing.payment.void_requested.v1", "license"));
        assert!(may_cancel("service:marketplace", "course_purchase"));
        assert!(!may_cancel("service:marketplace", "subscription"));
        assert!(!may_cancel("marketplace", "course_purchase"));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::seconds(5);
        assert_eq!(backoff(base, 1), Duration::seconds(5));
        assert_eq!(backoff(base, 2), Duration::seconds(10));
        assert_eq!(backoff(base, 4), Duration::seconds(40));
        assert_eq!(backoff(base, 30), Duration::hours(1));
        assert_eq!(backoff(base, 0), Duration::seconds(5));
        assert_eq!(backoff(Duration::hours(2), 1), Duration::hours(1));
    }
}
