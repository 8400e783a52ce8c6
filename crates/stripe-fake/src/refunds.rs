//! `POST /v1/refunds`: full or partial, never more than what is left on the charge.

use serde_json::Value;

use crate::error::ApiError;
use crate::form::Params;
use crate::objects::{self, ChargeStatus, IntentStatus, Refund};
use crate::store::{RequestCtx, Store};

const REASONS: [&str; 3] = ["duplicate", "fraudulent", "requested_by_customer"];

impl Store {
    pub(crate) fn create_refund(&mut self, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["payment_intent", "charge", "amount", "reason", "metadata"])?;
        let reason = p.str("reason");
        if let Some(reason) = reason {
            if !REASONS.contains(&reason) {
                return Err(ApiError::invalid_param(
                    "parameter_invalid_string",
                    "reason",
                    "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                ));
            }
        }
        let metadata = p.metadata()?;
        let requested = p.int("amount")?;
        if matches!(requested, Some(amount) if amount < 1) {
            return Err(ApiError::invalid_param(
                "parameter_invalid_integer",
                "amount",
                "Refund amount must be a positive integer.",
            ));
        }
        let charge_id = self.refundable_charge(p)?;
        let Some(charge) = self.charges.get_mut(&charge_id) else {
            return Err(ApiError::no_such("charge", &charge_id, "charge", 400));
        };
        let remaining = charge.unrefunded();
        if remaining == 0 {
            return Err(ApiError::invalid_state(
                "charge_already_refunded",
                None,
                format!("Charge {charge_id} has already been refunded."),
            ));
        }
        let amount = requested.unwrap_or(remaining);
        if amount > remaining {
            return Err(ApiError::invalid_state(
                "amount_too_large",
                Some("amount"),
                format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})."),
            ));
        }
        charge.amount_refunded += amount;
        charge.refunded = charge.amount_refunded == charge.amount;
        let refund = Refund {
            id: crate::ids::new_id("re"),
            object: "refund",
            amount,
            charge: charge_id.clone(),
            created: objects::now(),
            currency: charge.currency.clone(),
            metadata,
            payment_intent: charge.payment_intent.clone(),
            reason: reason.map(str::to_owned),
            // Card refunds in test mode succeed at once.
            status: "succeeded",
            failure_reason: None,
        };
        let charge_value = objects::to_value(&*charge);
        let value = objects::to_value(&refund);
        self.refunds.insert(refund.id.clone(), refund);
        self.emit("charge.refunded", charge_value, ctx);
        Ok(value)
    }

    /// Resolves `payment_intent` or `charge` to a charge that can be refunded.
    fn refundable_charge(&self, p: &Params) -> Result<String, ApiError> {
        let charge_id = match (p.str("payment_intent"), p.str("charge")) {
            (None, None) => {
                return Err(ApiError::invalid_param(
                    "parameter_missing",
                    "charge",
                    "One of the following params should be provided for this request: payment_intent or charge.",
                ))
            }
            (Some(pi_id), charge) => {
                let pi = self
                    .payment_intents
                    .get(pi_id)
                    .ok_or_else(|| ApiError::no_such("payment_intent", pi_id, "payment_intent", 400))?;
                let latest = pi.latest_charge.clone().filter(|_| pi.status == IntentStatus::Succeeded);
                let Some(latest) = latest else {
                    return Err(ApiError::invalid_state(
                        "payment_intent_unexpected_state",
                        Some("payment_intent"),
                        format!("This PaymentIntent ({pi_id}) does not have a successful charge to refund."),
                    ));
                };
                if charge.is_some_and(|c| c != latest) {
                    return Err(ApiError::invalid_param(
                        "parameter_invalid_string",
                        "charge",
                        "The charge does not belong to the given payment_intent.",
                    ));
                }
                latest
            }
            (None, Some(charge_id)) => charge_id.to_owned(),
        };
        let charge =
            self.charges.get(&charge_id).ok_or_else(|| ApiError::no_such("charge", &charge_id, "charge", 400))?;
        if charge.status != ChargeStatus::Succeeded {
            return Err(ApiError::invalid_state(
                "charge_not_refundable",
                Some("charge"),
                format!("Charge {charge_id} did not succeed and cannot be refunded."),
            ));
        }
        Ok(charge_id)
    }
}

impl Store {
    /// A refund that fails after it was made (the bank returned it), as Stripe reports one: the
    /// refund becomes `failed`, the charge's `amount_refunded` gives its amount back, and a
    /// `charge.refund.updated` event carries the refund.
    pub(crate) fn fail_refund(&mut self, id: &str, ctx: &RequestCtx) -> Result<Value, ApiError> {
        let refund = self.refunds.get_mut(id).ok_or_else(|| ApiError::no_such("refund", id, "refund", 404))?;
        if matches!(refund.status, "failed" | "canceled") {
            return Err(ApiError::invalid_state(
                "refund_already_failed",
                None,
                format!("Refund {id} has already failed."),
            ));
        }
        refund.status = "failed";
        refund.failure_reason = Some("expired_or_canceled_card".to_owned());
        let (charge_id, amount) = (refund.charge.clone(), refund.amount);
        let value = objects::to_value(&*refund);
        if let Some(charge) = self.charges.get_mut(&charge_id) {
            charge.amount_refunded = (charge.amount_refunded - amount).max(0);
            charge.refunded = charge.amount_refunded == charge.amount;
        }
        self.emit("charge.refund.updated", value.clone(), ctx);
        Ok(value)
    }

    /// The charge as `GET /v1/charges/{id}` answers; with `expand[]=refunds`, its refunds as a list
    /// object (`{"object": "list", "data": [...]}`, newest first, as Stripe lists them).
    pub(crate) fn charge_value(&self, id: &str, expand_refunds: bool) -> Result<Value, ApiError> {
        let mut value = objects::to_value(self.charge(id)?);
        if expand_refunds {
            let mut refunds: Vec<&Refund> = self.refunds.values().filter(|r| r.charge == id).collect();
            refunds.sort_by_key(|r| std::cmp::Reverse(r.created));
            let data: Vec<Value> = refunds.into_iter().map(objects::to_value).collect();
            value["refunds"] = serde_json::json!({
                "object": "list",
                "data": data,
                "has_more": false,
                "total_count": data.len(),
                "url": format!("/v1/charges/{id}/refunds"),
            });
        }
        Ok(value)
    }
}
