//! PaymentMethods: saved cards made from Stripe's test payment methods (`pm_card_visa`...),
//! attached to and detached from customers, listed per customer; and the customer's
//! `invoice_settings.default_payment_method`.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::form::Params;
use crate::objects::{self, PaymentMethod};
use crate::store::{RequestCtx, Store};
use crate::test_cards::{self, TestCard};

/// Stripe's list limits.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;

impl Store {
    /// The card behind a payment method: a test token (`pm_card_visa`, usable again and again) or
    /// a saved PaymentMethod, which must not be detached and, when `customer` is named, must be
    /// attached to that customer, as Stripe requires.
    pub(crate) fn usable_card(&self, pm: &str, customer: Option<&str>) -> Result<TestCard, ApiError> {
        if let Some(card) = test_cards::lookup(pm) {
            return Ok(card);
        }
        let method = self.payment_method(pm, "payment_method", 400)?;
        if method.detached {
            return Err(ApiError::invalid_state(
                "payment_method_unexpected_state",
                Some("payment_method"),
                "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, \
                 shared with a connected account, or was detached from a Customer. It may not be used again.",
            ));
        }
        if let (Some(customer), Some(owner)) = (customer, method.customer.as_deref()) {
            if customer != owner {
                return Err(ApiError::invalid_state(
                    "payment_method_unexpected_state",
                    Some("payment_method"),
                    format!("The provided PaymentMethod belongs to a different Customer than {customer}."),
                ));
            }
        }
        test_cards::lookup(&method.token).ok_or_else(|| ApiError::no_such("PaymentMethod", pm, "payment_method", 400))
    }

    pub(crate) fn payment_method(&self, id: &str, param: &str, status: u16) -> Result<&PaymentMethod, ApiError> {
        self.payment_methods.get(id).ok_or_else(|| ApiError::no_such("PaymentMethod", id, param, status))
    }

    /// A new PaymentMethod from a test token, as Stripe makes one when a token is confirmed on a
    /// SetupIntent or attached: the token itself is never stored on a customer.
    pub(crate) fn mint_payment_method(&mut self, token: &str) -> Result<String, ApiError> {
        let card = test_cards::lookup(token)
            .ok_or_else(|| ApiError::no_such("PaymentMethod", token, "payment_method", 400))?;
        self.pm_seq += 1;
        let method = PaymentMethod {
            id: crate::ids::new_id("pm"),
            object: "payment_method",
            type_: "card",
            card: json!({
                "brand": card.brand,
                "last4": card.last4,
                "funding": card.funding,
                "exp_month": 12,
                "exp_year": 2034,
                "country": "US",
            }),
            created: objects::now(),
            customer: None,
            livemode: false,
            metadata: Default::default(),
            token: token.to_owned(),
            detached: false,
            seq: self.pm_seq,
        };
        let id = method.id.clone();
        self.payment_methods.insert(id.clone(), method);
        Ok(id)
    }

    /// Attaches `pm` (a saved method, or a test token that becomes one) to `customer`; returns the
    /// attached method's id. Attaching to its own customer again is a no-op, as in Stripe.
    pub(crate) fn attach(&mut self, pm: &str, customer: &str, ctx: &RequestCtx) -> Result<String, ApiError> {
        self.customer(customer).map_err(|_| ApiError::no_such("customer", customer, "customer", 400))?;
        let id = if test_cards::lookup(pm).is_some() { self.mint_payment_method(pm)? } else { pm.to_owned() };
        let method =
            self.payment_methods.get_mut(&id).ok_or_else(|| ApiError::no_such("PaymentMethod", pm, "id", 404))?;
        if method.detached {
            return Err(ApiError::invalid_state(
                "payment_method_unexpected_state",
                None,
                "This PaymentMethod was previously used without being attached to a Customer or was detached from a \
                 Customer, and may not be used again.",
            ));
        }
        match method.customer.as_deref() {
            Some(owner) if owner == customer => return Ok(id),
            Some(_) => {
                return Err(ApiError::invalid_state(
                    "payment_method_unexpected_state",
                    None,
                    "The payment method you provided has already been attached to a customer.",
                ))
            }
            None => method.customer = Some(customer.to_owned()),
        }
        let value = objects::to_value(&*method);
        self.emit("payment_method.attached", value, ctx);
        Ok(id)
    }

    /// `POST /v1/payment_methods/{id}/attach`
    pub(crate) fn attach_payment_method(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["customer"])?;
        let customer = p.required_str("customer")?.to_owned();
        let id = self.attach(id, &customer, ctx)?;
        Ok(objects::to_value(self.payment_method(&id, "id", 404)?))
    }

    /// `POST /v1/payment_methods/{id}/detach`: for good (Stripe never lets it be used again); a
    /// customer whose default it was has no default any more.
    pub(crate) fn detach_payment_method(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&[])?;
        let method =
            self.payment_methods.get_mut(id).ok_or_else(|| ApiError::no_such("PaymentMethod", id, "id", 404))?;
        let Some(customer) = method.customer.take() else {
            return Err(ApiError::invalid_state(
                "payment_method_unexpected_state",
                None,
                "The payment method you provided is not attached to a customer so detachment is impossible.",
            ));
        };
        method.detached = true;
        let value = objects::to_value(&*method);
        if let Some(c) = self.customers.get_mut(&customer) {
            if c.invoice_settings.default_payment_method.as_deref() == Some(id) {
                c.invoice_settings.default_payment_method = None;
            }
        }
        self.emit("payment_method.detached", value.clone(), ctx);
        Ok(value)
    }

    /// Customer deletion detaches every method of the customer, as Stripe does.
    pub(crate) fn detach_all(&mut self, customer: &str) {
        for method in self.payment_methods.values_mut() {
            if method.customer.as_deref() == Some(customer) {
                method.customer = None;
                method.detached = true;
            }
        }
    }

    /// `GET /v1/payment_methods?customer=...&type=card[&limit=..&starting_after=..]`, newest first.
    pub(crate) fn list_payment_methods(&self, query: &Params) -> Result<Value, ApiError> {
        query.only(&["customer", "type", "limit", "starting_after"])?;
        let customer = query.required_str("customer")?;
        self.customer(customer).map_err(|_| ApiError::no_such("customer", customer, "customer", 400))?;
        if let Some(kind) = query.str("type") {
            if kind != "card" {
                return Err(ApiError::invalid_param(
                    "parameter_invalid_string",
                    "type",
                    format!("Invalid type: {kind}"),
                ));
            }
        }
        let limit = match query.int("limit")? {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            Some(_) => {
                return Err(ApiError::invalid_param(
                    "parameter_invalid_integer",
                    "limit",
                    "This value must be between 1 and 100.",
                ))
            }
        };
        let mut methods: Vec<&PaymentMethod> =
            self.payment_methods.values().filter(|m| m.customer.as_deref() == Some(customer)).collect();
        methods.sort_by_key(|m| std::cmp::Reverse(m.seq));
        if let Some(after) = query.str("starting_after") {
            let position = methods
                .iter()
                .position(|m| m.id == after)
                .ok_or_else(|| ApiError::no_such("PaymentMethod", after, "starting_after", 400))?;
            methods.drain(..=position);
        }
        let has_more = methods.len() > limit;
        let data: Vec<Value> = methods.into_iter().take(limit).map(objects::to_value).collect();
        Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/payment_methods"}))
    }

    /// `POST /v1/customers/{id}`: the plain fields and `invoice_settings[default_payment_method]`,
    /// which must be a method attached to this customer (empty clears it).
    pub(crate) fn update_customer(&mut self, id: &str, p: &Params, ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["email", "name", "description", "phone", "metadata", "invoice_settings"])?;
        p.only_nested("invoice_settings", &["default_payment_method"])?;
        self.customer(id)?;
        let default = p.raw("invoice_settings[default_payment_method]").map(str::to_owned);
        if let Some(pm) = default.as_deref().filter(|pm| !pm.is_empty()) {
            let attached = self.payment_methods.get(pm).is_some_and(|m| m.customer.as_deref() == Some(id));
            if !attached {
                return Err(ApiError::invalid_state(
                    "resource_missing",
                    Some("invoice_settings[default_payment_method]"),
                    format!(
                        "The customer does not have a payment method with the ID {pm}. The payment method must be \
                         attached to the customer."
                    ),
                ));
            }
        }
        let metadata = p.metadata()?;
        let customer = self.customers.get_mut(id).ok_or_else(|| ApiError::no_such("customer", id, "id", 404))?;
        for (field, target) in [
            ("email", &mut customer.email),
            ("name", &mut customer.name),
            ("description", &mut customer.description),
            ("phone", &mut customer.phone),
        ] {
            if let Some(value) = p.raw(field) {
                *target = (!value.is_empty()).then(|| value.to_owned());
            }
        }
        customer.metadata.extend(metadata);
        if let Some(pm) = default {
            customer.invoice_settings.default_payment_method = (!pm.is_empty()).then_some(pm);
        }
        let value = objects::to_value(&*customer);
        self.emit("customer.updated", value.clone(), ctx);
        Ok(value)
    }
}
