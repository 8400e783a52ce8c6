//! `POST /v1/customers` and `DELETE /v1/customers/{id}` rules.

use serde_json::Value;

use crate::error::ApiError;
use crate::form::Params;
use crate::objects::{self, Customer};
use crate::store::{RequestCtx, Store};

impl Store {
    pub(crate) fn create_customer(&mut self, p: &Params, _ctx: &RequestCtx) -> Result<Value, ApiError> {
        p.only(&["email", "name", "description", "phone", "metadata"])?;
        if let Some(email) = p.str("email") {
            if !email.contains('@') || email.len() > 512 {
                return Err(ApiError::invalid_param(
                    "email_invalid",
                    "email",
                    format!("Invalid email address: {email}"),
                ));
            }
        }
        let customer = Customer {
            id: crate::ids::new_id("cus"),
            object: "customer",
            created: objects::now(),
            email: p.str("email").map(str::to_owned),
            name: p.str("name").map(str::to_owned),
            description: p.str("description").map(str::to_owned),
            phone: p.str("phone").map(str::to_owned),
            metadata: p.metadata()?,
            balance: 0,
            delinquent: false,
            invoice_settings: Default::default(),
            livemode: false,
        };
        let value = objects::to_value(&customer);
        self.customers.insert(customer.id.clone(), customer);
        Ok(value)
    }

    /// Like Stripe: the customer and its personal fields are gone, a `customer.deleted` event
    /// carries the last state, a retrieve answers `{"id", "object": "customer", "deleted": true}`,
    /// and a second delete (or a payment intent naming it) is `resource_missing`.
    pub(crate) fn delete_customer(&mut self, id: &str, ctx: &RequestCtx) -> Result<Value, ApiError> {
        let customer = self.customers.remove(id).ok_or_else(|| ApiError::no_such("customer", id, "id", 404))?;
        self.deleted_customers.insert(customer.id.clone());
        self.detach_all(&customer.id);
        self.emit("customer.deleted", objects::to_value(&customer), ctx);
        Ok(deleted_stub(id))
    }

    /// `GET /v1/customers/{id}`, deleted ones included.
    pub(crate) fn customer_value(&self, id: &str) -> Result<Value, ApiError> {
        if self.deleted_customers.contains(id) {
            return Ok(deleted_stub(id));
        }
        self.customer(id).map(objects::to_value)
    }
}

fn deleted_stub(id: &str) -> Value {
    serde_json::json!({"id": id, "object": "customer", "deleted": true})
}
