//! Billing's payment outcomes for course purchases. Each runs in the transaction that writes the
//! inbox row, so a redelivered event has no second effect.
//!
//! Billing's payloads are read through local structs holding only the fields used here, without
//! `deny_unknown_fields`: billing may add fields (and purposes) without breaking this consumer.

use crate::purchasing::{self, Charged, RefundNotice, Refunded};
use crate::store::purchases;
use crate::State;
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{payment_purpose, PaymentFailed, PaymentRefunded, PaymentSucceeded};
use events::{CloudEvent, DomainEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use platform::money::Money;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

const COURSE_PURCHASE: &str = events::catalog::billing::PaymentPurpose::CoursePurchase.as_str();

#[derive(Debug, Deserialize)]
struct Succeeded {
    payment_id: Uuid,
    purpose: String,
    reference_id: String,
    /// Net of tax: what splits.
    amount: Money,
    #[serde(default)]
    tax: Option<Money>,
}

#[derive(Debug, Deserialize)]
struct Failed {
    purpose: String,
    reference_id: String,
    failure_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Refund {
    purpose: String,
    reference_id: String,
    total_refunded: Money,
    fully_refunded: bool,
    /// The tax part of this refund, absent for an untaxed payment.
    #[serde(default)]
    tax: Option<Money>,
    /// Contract R: the field to act on; events published before it existed read as `fully_refunded`.
    ends_access: Option<bool>,
}

fn data<T: DeserializeOwned>(event: &CloudEvent) -> Result<T, HandlerError> {
    serde_json::from_value(event.data.clone()).map_err(|e| HandlerError::Reject(format!("{}: {e}", event.event_type)))
}

pub struct Handler(pub Arc<State>);

impl EventHandler for Handler {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec![PaymentSucceeded::TYPE, PaymentFailed::TYPE, PaymentRefunded::TYPE]
    }

    /// Payments for subscriptions and licenses are not ours: acked without a transaction.
    fn concerns(&self, event: &CloudEvent) -> bool {
        payment_purpose(event).is_none_or(|purpose| purpose == COURSE_PURCHASE)
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                PaymentSucceeded::TYPE => succeeded(conn, &self.0, data(event)?).await,
                PaymentFailed::TYPE => failed(conn, &self.0, data(event)?).await,
                PaymentRefunded::TYPE => refunded(conn, &self.0, data(event)?).await,
                _ => Ok(()),
            }
        })
    }
}

fn retry(e: crate::error::MarketError) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

/// Our purchase for a course payment, locked; `None` for other purposes and unknown references.
async fn purchase_of(
    conn: &mut AsyncPgConnection,
    purpose: &str,
    reference: &str,
) -> Result<Option<purchases::Purchase>, HandlerError> {
    if purpose != COURSE_PURCHASE {
        return Ok(None);
    }
    let Ok(id) = Uuid::parse_str(reference) else {
        tracing::warn!(%reference, "course payment with a reference that is not a purchase id");
        return Ok(None);
    };
    let found = purchases::lock(conn, id).await?;
    if found.is_none() {
        tracing::warn!(purchase = %id, "course payment for an unknown purchase");
    }
    Ok(found)
}

async fn succeeded(conn: &mut AsyncPgConnection, state: &State, e: Succeeded) -> Result<(), HandlerError> {
    let Some(purchase) = purchase_of(conn, &e.purpose, &e.reference_id).await? else {
        return Ok(());
    };
    let charged = Charged { net: e.amount, tax: e.tax.unwrap_or(Money::zero(e.amount.currency)) };
    purchasing::on_paid(conn, state, &purchase, e.payment_id, charged).await.map_err(retry)
}

async fn failed(conn: &mut AsyncPgConnection, state: &State, e: Failed) -> Result<(), HandlerError> {
    let Some(purchase) = purchase_of(conn, &e.purpose, &e.reference_id).await? else {
        return Ok(());
    };
    purchasing::on_payment_failed(conn, state, &purchase, e.failure_code.as_deref()).await.map_err(retry)
}

async fn refunded(conn: &mut AsyncPgConnection, state: &State, e: Refund) -> Result<(), HandlerError> {
    let Some(purchase) = purchase_of(conn, &e.purpose, &e.reference_id).await? else {
        return Ok(());
    };
    let notice = RefundNotice {
        total_refunded: e.total_refunded,
        ends_access: e.ends_access.unwrap_or(e.fully_refunded),
        tax: e.tax,
    };
    match purchasing::on_refunded(conn, state, &purchase, &notice).await.map_err(retry)? {
        // The success event is processed concurrently and may not have committed yet: retry.
        Refunded::NotYetCompleted => Err(HandlerError::Retry(format!("purchase {} not completed yet", purchase.id))),
        Refunded::Applied | Refunded::Ignored => Ok(()),
    }
}
