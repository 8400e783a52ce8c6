//! When a PaymentIntent read from Stripe tells billing something its record does not say yet.
//! The reconcile job re-reads an unsettled payment every pass and has no event id to deduplicate
//! by, and a webhook may arrive after the job applied what it says: both go through
//! `webhooks::apply`, which applies only news, so the same failure is never announced twice.

use super::payment::{status_name, SUCCEEDED};

/// `stored_*`: the payment as recorded; `intent_*`: the PaymentIntent as Stripe has it now, with
/// the failure code billing would store for its last error (`decline_code`, else `code`).
pub fn intent_is_news(
    stored_status: &str,
    stored_failure_code: Option<&str>,
    intent_status: stripe::PaymentIntentStatus,
    intent_failure_code: Option<&str>,
) -> bool {
    let status = status_name(intent_status);
    if stored_status == SUCCEEDED {
        // Final: nothing the intent says moves it (refunds are read from the charge).
        return false;
    }
    status != stored_status || (intent_failure_code.is_some() && intent_failure_code != stored_failure_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stripe::PaymentIntentStatus as S;

    #[test]
    fn a_success_or_cancel_the_record_lacks_is_news() {
        assert!(intent_is_news("requires_payment_method", None, S::Succeeded, None));
        assert!(intent_is_news("processing", None, S::Succeeded, None));
        assert!(intent_is_news("requires_payment_method", None, S::Canceled, None));
        assert!(!intent_is_news(SUCCEEDED, None, S::Succeeded, None));
        assert!(!intent_is_news("canceled", None, S::Canceled, None));
    }

    #[test]
    fn a_failure_is_news_once() {
        // A decline leaves the intent awaiting a method, as a new intent is: only the code tells.
        assert!(intent_is_news("requires_payment_method", None, S::RequiresPaymentMethod, Some("generic_decline")));
        assert!(!intent_is_news(
            "requires_payment_method",
            Some("generic_decline"),
            S::RequiresPaymentMethod,
            Some("generic_decline")
        ));
        assert!(intent_is_news(
            "requires_payment_method",
            Some("generic_decline"),
            S::RequiresPaymentMethod,
            Some("insufficient_funds")
        ));
        assert!(!intent_is_news("requires_payment_method", None, S::RequiresPaymentMethod, None));
    }

    #[test]
    fn nothing_moves_a_success() {
        assert!(!intent_is_news(SUCCEEDED, None, S::Canceled, None));
        assert!(!intent_is_news(SUCCEEDED, None, S::RequiresPaymentMethod, Some("generic_decline")));
    }
}
