//! `POST /v1/customers` rules.

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
            livemode: false,
        };
        let value = objects::to_value(&customer);
        self.customers.insert(customer.id.clone(), customer);
        Ok(value)
    }
}
