use serde::Deserialize;

use super::{check_id, Metadata};
use crate::client::Client;
use crate::form::FormBody;
use crate::{IdempotencyKey, StripeError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    /// `cus_...`
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    #[serde(default)]
    pub invoice_settings: Option<InvoiceSettings>,
    /// True for a deleted customer: Stripe answers a retrieve with only `id`, `object` and this.
    #[serde(default)]
    pub deleted: bool,
}

/// `customer.invoice_settings`: the default payment method is all billing reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InvoiceSettings {
    #[serde(default)]
    pub default_payment_method: Option<String>,
}

/// What `DELETE /v1/customers/{id}` answers: `{"id": "cus_...", "object": "customer", "deleted": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeletedCustomer {
    pub id: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateCustomer {
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

impl CreateCustomer {
    pub(crate) fn to_form(&self) -> Result<FormBody, StripeError> {
        let mut form = FormBody::new();
        form.push_opt("email", self.email.as_deref())
            .push_opt("name", self.name.as_deref())
            .push_opt("description", self.description.as_deref());
        form.push_metadata(&self.metadata)?;
        Ok(form)
    }
}

impl Client {
    /// `POST /v1/customers`
    pub async fn create_customer(
        &self,
        params: &CreateCustomer,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Customer, StripeError> {
        self.post("customers", params.to_form()?, idempotency_key).await
    }

    /// `GET /v1/customers/{id}`
    pub async fn retrieve_customer(&self, id: &str) -> Result<Customer, StripeError> {
        check_id("customer", id)?;
        self.get(&format!("customers/{id}")).await
    }

    /// `DELETE /v1/customers/{id}`: Stripe deletes the customer's personal data and detaches its
    /// payment methods; charges and refunds stay (they name the customer id only). Deleting an
    /// already-deleted customer is a 404 `resource_missing`, which callers that retry treat as done.
    pub async fn delete_customer(&self, id: &str) -> Result<DeletedCustomer, StripeError> {
        check_id("customer", id)?;
        self.delete(&format!("customers/{id}")).await
    }
}
