//! The PaymentIntent state machine: create, confirm (with the test cards' outcomes), cancel, and the client app's
//! side of confirmation (completing 3-D Secure) that only the test controls reach.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::form::Params;
use crate::intents;
use crate::objects::{self, Charge, ChargeStatus, IntentStatus, PaymentIntent};
use crate::store::{RequestCtx, Store};
use crate::test_cards::{Outcome, TestCard};

/// Stripe's upper bound for `amount` (eight digits).
const MAX_AMOUNT: i64 = 99_999_999;
const CANCELABLE: [IntentStatus; 5] = [
    IntentStatus::RequiresPaymentMethod,
    IntentStatus::RequiresCapture,
    IntentStatus::RequiresConfirmation,
    IntentStatus::RequiresAction,
    IntentStatus::Processing,
];

impl Store {
    pub(crate) fn create_payment_intent(&mut self, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&[
            "amount",
            "currency",
            "customer",
            "description",
            "metadata",
            "payment_method",
            "payment_method_types",
            "confirm",
            "off_session",
            "return_url",
        ])?;
        let amount = p.int("amount")?.ok_or_else(|| ApiError::missing_param("amount"))?;
        if !(1..=MAX_AMOUNT).contains(&amount) {
            return Err(ApiError::invalid_param(
                "amount_too_small",
                "amount",
                "Amount must be a positive integer of at most 8 digits.",
            ));
        }
        let currency = p.required_str("currency")?.to_ascii_lowercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(ApiError::invalid_param(
                "parameter_invalid_string",
                "currency",
                format!("Invalid currency: {currency}."),
            ));
        }
        if let Some(customer) = p.str("customer") {
            if !self.customers.contains_key(customer) {
                return Err(ApiError::no_such("customer", customer, "customer", 400));
            }
        }
        let payment_method = p.str("payment_method");
        if let Some(pm) = payment_method {
            self.usable_card(pm, p.str("customer"))?;
        }
        let confirm = p.bool("confirm")?;
        let off_session = p.bool("off_session")?;
        if off_session && !confirm {
            return Err(ApiError::invalid_param(
                "parameter_invalid_empty",
                "off_session",
                "off_session can only be used when confirm=true.",
            ));
        }
        if confirm && payment_method.is_none() {
            return Err(ApiError::missing_param("payment_method"));
        }
        let id = crate::ids::new_id("pi");
        let pi = PaymentIntent {
            client_secret: crate::ids::client_secret(&id),
            id: id.clone(),
            object: "payment_intent",
            amount,
            amount_capturable: 0,
            amount_received: 0,
            canceled_at: None,
            cancellation_reason: None,
            capture_method: "automatic",
            confirmation_method: "automatic",
            created: objects::now(),
            currency,
            customer: p.str("customer").map(str::to_owned),
            description: p.str("description").map(str::to_owned),
            last_payment_error: None,
            latest_charge: None,
            livemode: false,
            metadata: p.metadata()?,
            next_action: None,
            payment_method: payment_method.map(str::to_owned),
            payment_method_types: vec!["card"],
            status: if payment_method.is_some() {
                IntentStatus::RequiresConfirmation
            } else {
                IntentStatus::RequiresPaymentMethod
            },
        };
        self.payment_intents.insert(id.clone(), pi);
        if confirm {
            return self.attempt_payment(&id, off_session, ctx);
        }
        Ok(objects::to_value(&self.payment_intent(&id)?))
    }

    /// `POST /v1/payment_intents/{id}/confirm`.
    pub(crate) fn confirm_payment_intent(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["payment_method", "off_session", "return_url"])?;
        let off_session = p.bool("off_session")?;
        self.prepare_confirmation(id, p.str("payment_method"))?;
        self.attempt_payment(id, off_session, ctx)
    }

    /// What the client app does with the client secret: confirm with the card the customer entered, or finish
    /// the 3-D Secure challenge of an intent in `requires_action` (the challenge always passes here).
    pub(crate) fn client_confirm(&mut self, id: &str, payment_method: Option<&str>) -> Result<Value, ApiError> {
        let ctx = RequestCtx::default();
        let pi = self.payment_intent(id)?;
        if pi.status == IntentStatus::RequiresAction
            && payment_method.is_none_or(|pm| Some(pm) == pi.payment_method.as_deref())
        {
            let card = pi.payment_method.as_deref().and_then(|pm| self.usable_card(pm, None).ok());
            let card = card.ok_or_else(|| {
                ApiError::invalid_state("payment_intent_unexpected_state", None, "No payment method to authenticate.")
            })?;
            return self.settle(id, card, Outcome::Succeed, &ctx);
        }
        self.prepare_confirmation(id, payment_method)?;
        self.attempt_payment(id, false, &ctx)
    }

    pub(crate) fn cancel_payment_intent(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["cancellation_reason"])?;
        let reason = p.str("cancellation_reason");
        if let Some(reason) = reason {
            if !["duplicate", "fraudulent", "requested_by_customer", "abandoned"].contains(&reason) {
                return Err(ApiError::invalid_param(
                    "parameter_invalid_string",
                    "cancellation_reason",
                    format!("Invalid cancellation_reason: {reason}"),
                ));
            }
        }
        let status = self.payment_intent(id)?.status;
        if !CANCELABLE.contains(&status) {
            return Err(ApiError::invalid_state(
                "payment_intent_unexpected_state",
                None,
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with \
                     one of the following statuses may be canceled: requires_payment_method, requires_capture, \
                     requires_confirmation, requires_action, processing.",
                    status.as_str()
                ),
            ));
        }
        let pi = self.pi_mut(id)?;
        pi.status = IntentStatus::Canceled;
        pi.canceled_at = Some(objects::now());
        pi.cancellation_reason = reason.map(str::to_owned);
        pi.next_action = None;
        let value = objects::to_value(pi);
        self.emit("payment_intent.canceled", value.clone(), ctx);
        Ok(value)
    }

    /// Checks the state allows confirming and sets the payment method to use.
    fn prepare_confirmation(&mut self, id: &str, payment_method: Option<&str>) -> Result<(), ApiError> {
        if let Some(pm) = payment_method {
            let customer = self.payment_intent(id)?.customer.clone();
            self.usable_card(pm, customer.as_deref())?;
        }
        intents::prepare(self.pi_mut(id)?, payment_method)
    }

    /// Runs the card's outcome on an intent whose payment method is set.
    fn attempt_payment(&mut self, id: &str, off_session: bool, ctx: &RequestCtx) -> Result<Value, ApiError> {
        let pm = self.payment_intent(id)?.payment_method.clone().unwrap_or_default();
        let card = self.usable_card(&pm, None)?;
        match card.outcome {
            Outcome::AuthenticationRequired if !off_session => {
                let pi = self.pi_mut(id)?;
                pi.status = IntentStatus::RequiresAction;
                pi.next_action = Some(intents::three_d_secure());
                Ok(objects::to_value(pi))
            }
            outcome => self.settle(id, card, outcome, ctx),
        }
    }

    /// Creates the charge for an attempt and moves the intent to its final state for that attempt.
    fn settle(&mut self, id: &str, card: TestCard, outcome: Outcome, ctx: &RequestCtx) -> Result<Value, ApiError> {
        let failure = match outcome {
            Outcome::Succeed => None,
            Outcome::Decline { decline_code, message } => Some(("card_declined", decline_code, message)),
            Outcome::AuthenticationRequired => Some((
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            )),
        };
        let pi = self.payment_intent(id)?.clone();
        let pm = pi.payment_method.clone().unwrap_or_default();
        let charge = Charge {
            id: crate::ids::new_id("ch"),
            object: "charge",
            amount: pi.amount,
            amount_captured: if failure.is_none() { pi.amount } else { 0 },
            amount_refunded: 0,
            captured: failure.is_none(),
            created: objects::now(),
            currency: pi.currency.clone(),
            customer: pi.customer.clone(),
            description: pi.description.clone(),
            failure_code: failure.map(|(code, _, _)| code.to_owned()),
            failure_message: failure.map(|(_, _, message)| message.to_owned()),
            livemode: false,
            metadata: pi.metadata.clone(),
            outcome: json!({
                "network_status": if failure.is_none() { "approved_by_network" } else { "declined_by_network" },
                "type": if failure.is_none() { "authorized" } else { "issuer_declined" },
                "reason": failure.map(|(_, decline_code, _)| decline_code),
            }),
            paid: failure.is_none(),
            payment_intent: pi.id.clone(),
            payment_method: pm.clone(),
            payment_method_details: json!({
                "type": "card",
                "card": {
                    "brand": card.brand,
                    "last4": card.last4,
                    "funding": card.funding,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "country": "US",
                },
            }),
            refunded: false,
            status: if failure.is_none() { ChargeStatus::Succeeded } else { ChargeStatus::Failed },
        };
        let charge_id = charge.id.clone();
        self.charges.insert(charge_id.clone(), charge);
        let pi = self.pi_mut(id)?;
        pi.latest_charge = Some(charge_id.clone());
        pi.next_action = None;
        match failure {
            None => {
                pi.status = IntentStatus::Succeeded;
                pi.amount_received = pi.amount;
                pi.last_payment_error = None;
                let value = objects::to_value(pi);
                self.emit("payment_intent.succeeded", value.clone(), ctx);
                Ok(value)
            }
            Some((code, decline_code, message)) => {
                // Like Stripe: the failed method is detached so the customer must supply another.
                pi.status = IntentStatus::RequiresPaymentMethod;
                pi.payment_method = None;
                pi.last_payment_error = Some(json!({
                    "type": "card_error",
                    "code": code,
                    "decline_code": decline_code,
                    "message": message,
                    "charge": charge_id,
                    "payment_method": {"id": pm, "object": "payment_method", "type": "card"},
                }));
                let value = objects::to_value(pi);
                self.emit("payment_intent.payment_failed", value.clone(), ctx);
                Err(ApiError::card(code, decline_code, message, value))
            }
        }
    }

    fn pi_mut(&mut self, id: &str) -> Result<&mut PaymentIntent, ApiError> {
        self.payment_intents.get_mut(id).ok_or_else(|| ApiError::no_such("payment_intent", id, "intent", 404))
    }
}
