//! Stripe's test payment methods and what each one does when confirmed.

/// What confirming with a test payment method leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Succeed,
    Decline {
        decline_code: &'static str,
        message: &'static str,
    },
    /// 3-D Secure: `requires_action` on session, a failure off session.
    AuthenticationRequired,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TestCard {
    pub brand: &'static str,
    pub last4: &'static str,
    pub funding: &'static str,
    pub outcome: Outcome,
}

pub(crate) fn lookup(payment_method: &str) -> Option<TestCard> {
    let card = |brand, last4, funding, outcome| TestCard { brand, last4, funding, outcome };
    Some(match payment_method {
        "pm_card_visa" => card("visa", "4242", "credit", Outcome::Succeed),
        "pm_card_visa_debit" => card("visa", "5556", "debit", Outcome::Succeed),
        "pm_card_mastercard" => card("mastercard", "4444", "credit", Outcome::Succeed),
        "pm_card_chargeDeclined" => card(
            "visa",
            "0002",
            "credit",
            Outcome::Decline { decline_code: "generic_decline", message: "Your card was declined." },
        ),
        "pm_card_visa_chargeDeclinedInsufficientFunds" => card(
            "visa",
            "9995",
            "credit",
            Outcome::Decline { decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
        ),
        "pm_card_authenticationRequired" => card("visa", "3184", "credit", Outcome::AuthenticationRequired),
        _ => return None,
    })
}

/// Whether a declining card is refused already when set up for later use (Stripe's generic
/// decline card is; one declining for insufficient funds sets up and fails only when charged).
pub(crate) fn fails_setup(decline_code: &str) -> bool {
    decline_code == "generic_decline"
}
