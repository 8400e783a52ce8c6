use serde::Deserialize;

use super::check_id;
use crate::client::Client;
use crate::form::FormBody;
use crate::{Customer, IdempotencyKey, StripeError};

/// A saved payment method (billing saves cards only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethod {
    /// `pm_...`
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub card: Option<SavedCard>,
    /// `None` once detached.
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub created: i64,
}

/// What a card's PaymentMethod says of the card (never the number).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavedCard {
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
    #[serde(default)]
    pub funding: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethodList {
    pub data: Vec<PaymentMethod>,
    #[serde(default)]
    pub has_more: bool,
}

impl Client {
    /// `GET /v1/payment_methods/{id}`
    pub async fn retrieve_payment_method(&self, id: &str) -> Result<PaymentMethod, StripeError> {
        check_id("payment_method", id)?;
        self.get(&format!("payment_methods/{id}")).await
    }

    /// `GET /v1/payment_methods?customer=..&type=card&limit=100`: the customer's cards, newest first
    /// (one page: Stripe caps a page at 100).
    pub async fn list_payment_methods(&self, customer: &str) -> Result<PaymentMethodList, StripeError> {
        check_id("customer", customer)?;
        self.get(&format!("payment_methods?customer={customer}&type=card&limit=100")).await
    }

    /// `POST /v1/payment_methods/{id}/attach`
    pub async fn attach_payment_method(
        &self,
        id: &str,
        customer: &str,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentMethod, StripeError> {
        check_id("payment_method", id)?;
        check_id("customer", customer)?;
        let mut form = FormBody::new();
        form.push("customer", customer);
        self.post(&format!("payment_methods/{id}/attach"), form, idempotency_key).await
    }

    /// `POST /v1/payment_methods/{id}/detach`: for good; Stripe never lets a detached method be
    /// used or attached again.
    pub async fn detach_payment_method(
        &self,
        id: &str,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentMethod, StripeError> {
        check_id("payment_method", id)?;
        self.post(&format!("payment_methods/{id}/detach"), FormBody::new(), idempotency_key).await
    }

    /// `POST /v1/customers/{id}` with `invoice_settings[default_payment_method]` (`None` clears
    /// it): the card Stripe itself uses for the customer's invoices and shows in its dashboard.
    pub async fn set_default_payment_method(
        &self,
        customer: &str,
        payment_method: Option<&str>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Customer, StripeError> {
        check_id("customer", customer)?;
        if let Some(pm) = payment_method {
            check_id("payment_method", pm)?;
        }
        let mut form = FormBody::new();
        form.push("invoice_settings[default_payment_method]", payment_method.unwrap_or_default());
        self.post(&format!("customers/{customer}"), form, idempotency_key).await
    }
}
