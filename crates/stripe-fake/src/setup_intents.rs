//! SetupIntents: saving a card for later, off-session use. Confirming one with a test payment
//! method runs that card's setup outcome; on success the card becomes a PaymentMethod attached to
//! the intent's customer and `setup_intent.succeeded` is sent.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::form::Params;
use crate::intents::{self, CONFIRMABLE};
use crate::objects::{self, IntentStatus, SetupIntent};
use crate::store::{RequestCtx, Store};
use crate::test_cards::{self, Outcome};

impl Store {
    /// `POST /v1/setup_intents`
    pub(crate) fn create_setup_intent(&mut self, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["customer", "usage", "payment_method_types", "metadata", "description", "payment_method", "confirm"])?;
        let usage = p.str("usage").unwrap_or("off_session");
        if !["off_session", "on_session"].contains(&usage) {
            return Err(ApiError::invalid_param(
                "parameter_invalid_string",
                "usage",
                format!("Invalid usage: {usage}"),
            ));
        }
        for (key, value) in p.prefixed("payment_method_types") {
            if value != "card" {
                return Err(ApiError::invalid_param(
                    "payment_method_unactivated",
                    &key,
                    format!("The payment method type provided: {value} is invalid."),
                ));
            }
        }
        let customer = p.str("customer");
        if let Some(customer) = customer {
            if !self.customers.contains_key(customer) {
                return Err(ApiError::no_such("customer", customer, "customer", 400));
            }
        }
        let payment_method = p.str("payment_method");
        if let Some(pm) = payment_method {
            self.usable_card(pm, customer)?;
        }
        let confirm = p.bool("confirm")?;
        if confirm && payment_method.is_none() {
            return Err(ApiError::missing_param("payment_method"));
        }
        let id = crate::ids::new_id("seti");
        let intent = SetupIntent {
            client_secret: crate::ids::client_secret(&id),
            id: id.clone(),
            object: "setup_intent",
            cancellation_reason: None,
            created: objects::now(),
            customer: customer.map(str::to_owned),
            description: p.str("description").map(str::to_owned),
            last_setup_error: None,
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
            usage: usage.to_owned(),
        };
        self.setup_intents.insert(id.clone(), intent);
        self.emit("setup_intent.created", objects::to_value(self.setup_intent(&id)?), ctx);
        if confirm {
            return self.attempt_setup(&id, ctx);
        }
        Ok(objects::to_value(self.setup_intent(&id)?))
    }

    /// `POST /v1/setup_intents/{id}/confirm` (server side).
    pub(crate) fn confirm_setup_intent(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["payment_method", "return_url"])?;
        self.prepare_setup(id, p.str("payment_method"))?;
        self.attempt_setup(id, ctx)
    }

    /// What the client app does with the client secret: confirm with the card entered, or pass
    /// the 3-D Secure challenge of an intent in `requires_action` (it always passes here).
    pub(crate) fn client_confirm_setup(&mut self, id: &str, payment_method: Option<&str>) -> Result<Value, ApiError> {
        let ctx = RequestCtx::default();
        let intent = self.setup_intent(id)?;
        if intent.status == IntentStatus::RequiresAction
            && payment_method.is_none_or(|pm| Some(pm) == intent.payment_method.as_deref())
        {
            return self.finish_setup(id, &ctx);
        }
        self.prepare_setup(id, payment_method)?;
        self.attempt_setup(id, &ctx)
    }

    /// `POST /v1/setup_intents/{id}/cancel`
    pub(crate) fn cancel_setup_intent(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["cancellation_reason"])?;
        let reason = p.str("cancellation_reason");
        if reason.is_some_and(|r| !["abandoned", "duplicate", "requested_by_customer"].contains(&r)) {
            return Err(ApiError::invalid_param(
                "parameter_invalid_string",
                "cancellation_reason",
                "Invalid cancellation_reason.",
            ));
        }
        let intent = self.si_mut(id)?;
        if !CONFIRMABLE.contains(&intent.status) {
            return Err(intents::unexpected_state(&*intent, "cancel"));
        }
        intent.status = IntentStatus::Canceled;
        intent.cancellation_reason = reason.map(str::to_owned);
        intent.next_action = None;
        let value = objects::to_value(&*intent);
        self.emit("setup_intent.canceled", value.clone(), ctx);
        Ok(value)
    }

    fn prepare_setup(&mut self, id: &str, payment_method: Option<&str>) -> Result<(), ApiError> {
        let customer = self.setup_intent(id)?.customer.clone();
        if let Some(pm) = payment_method {
            self.usable_card(pm, customer.as_deref())?;
        }
        intents::prepare(self.si_mut(id)?, payment_method)
    }

    /// The card's setup outcome. Like Stripe's test cards: the generic decline card is refused
    /// at setup; a card that declines charges for other reasons (insufficient funds) sets up fine
    /// and fails later, off session; a 3-D Secure card asks for authentication first.
    fn attempt_setup(&mut self, id: &str, ctx: &RequestCtx) -> Result<Value, ApiError> {
        let pm = self.setup_intent(id)?.payment_method.clone().unwrap_or_default();
        let card = self.usable_card(&pm, None)?;
        match card.outcome {
            Outcome::AuthenticationRequired => {
                let intent = self.si_mut(id)?;
                intent.status = IntentStatus::RequiresAction;
                intent.next_action = Some(intents::three_d_secure());
                Ok(objects::to_value(&*intent))
            }
            Outcome::Decline { decline_code, message } if test_cards::fails_setup(decline_code) => {
                let intent = self.si_mut(id)?;
                intent.status = IntentStatus::RequiresPaymentMethod;
                intent.payment_method = None;
                intent.next_action = None;
                intent.last_setup_error = Some(json!({
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": decline_code,
                    "message": message,
                    "payment_method": {"id": pm, "object": "payment_method", "type": "card"},
                }));
                let value = objects::to_value(&*intent);
                self.emit("setup_intent.setup_failed", value.clone(), ctx);
                Err(ApiError::setup_card("card_declined", decline_code, message, value))
            }
            _ => self.finish_setup(id, ctx),
        }
    }

    /// Success: a token becomes a PaymentMethod of its own, attached to the intent's customer.
    fn finish_setup(&mut self, id: &str, ctx: &RequestCtx) -> Result<Value, ApiError> {
        let intent = self.setup_intent(id)?.clone();
        let pm = intent.payment_method.clone().unwrap_or_default();
        let saved = match &intent.customer {
            Some(customer) => self.attach(&pm, customer, ctx)?,
            None if test_cards::lookup(&pm).is_some() => self.mint_payment_method(&pm)?,
            None => pm,
        };
        let intent = self.si_mut(id)?;
        intent.status = IntentStatus::Succeeded;
        intent.payment_method = Some(saved);
        intent.next_action = None;
        intent.last_setup_error = None;
        let value = objects::to_value(&*intent);
        self.emit("setup_intent.succeeded", value.clone(), ctx);
        Ok(value)
    }

    fn si_mut(&mut self, id: &str) -> Result<&mut SetupIntent, ApiError> {
        self.setup_intents.get_mut(id).ok_or_else(|| ApiError::no_such("setup_intent", id, "intent", 404))
    }
}
