//! What PaymentIntents and SetupIntents share: the statuses a confirmation may start from, how a
//! confirmation takes its payment method, and the 3-D Secure challenge a card may ask for. The
//! outcomes differ (a payment makes a charge, a setup saves the card) and stay with each.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::objects::{IntentStatus, PaymentIntent, SetupIntent};

/// Confirming (or canceling, for a SetupIntent) starts from one of these.
pub(crate) const CONFIRMABLE: [IntentStatus; 3] =
    [IntentStatus::RequiresPaymentMethod, IntentStatus::RequiresConfirmation, IntentStatus::RequiresAction];

pub(crate) trait Intent {
    /// In Stripe's messages: `PaymentIntent`, `SetupIntent`.
    const NAME: &'static str;
    /// Stripe's error code for a call the intent's status does not allow.
    const UNEXPECTED_STATE: &'static str;
    fn status(&self) -> IntentStatus;
    fn payment_method_mut(&mut self) -> &mut Option<String>;
}

impl Intent for PaymentIntent {
    const NAME: &'static str = "PaymentIntent";
    const UNEXPECTED_STATE: &'static str = "payment_intent_unexpected_state";
    fn status(&self) -> IntentStatus {
        self.status
    }
    fn payment_method_mut(&mut self) -> &mut Option<String> {
        &mut self.payment_method
    }
}

impl Intent for SetupIntent {
    const NAME: &'static str = "SetupIntent";
    const UNEXPECTED_STATE: &'static str = "setup_intent_unexpected_state";
    fn status(&self) -> IntentStatus {
        self.status
    }
    fn payment_method_mut(&mut self) -> &mut Option<String> {
        &mut self.payment_method
    }
}

/// The intent's status in Stripe's refusal of `action` (`confirm`, `cancel`).
pub(crate) fn unexpected_state<I: Intent>(intent: &I, action: &str) -> ApiError {
    ApiError::invalid_state(
        I::UNEXPECTED_STATE,
        None,
        format!("You cannot {action} this {} because it has a status of {}.", I::NAME, intent.status().as_str()),
    )
}

/// Check a confirmation may start and set the payment method it uses (the one given, else the
/// one already on the intent). The caller has checked the card is usable.
pub(crate) fn prepare<I: Intent>(intent: &mut I, payment_method: Option<&str>) -> Result<(), ApiError> {
    if !CONFIRMABLE.contains(&intent.status()) {
        return Err(unexpected_state(intent, "confirm"));
    }
    if let Some(pm) = payment_method {
        *intent.payment_method_mut() = Some(pm.to_owned());
    }
    if intent.payment_method_mut().is_none() {
        return Err(ApiError::invalid_state(
            I::UNEXPECTED_STATE,
            Some("payment_method"),
            format!("You cannot confirm this {} because it's missing a payment method.", I::NAME),
        ));
    }
    Ok(())
}

/// What a 3-D Secure card asks of the client app on session.
pub(crate) fn three_d_secure() -> Value {
    json!({"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}})
}
