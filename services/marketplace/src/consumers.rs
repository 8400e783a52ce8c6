//! Billing's payment outcomes for course purchases. Each runs in the transaction that writes the
//! inbox row, so a redelivered event has no second effect.

use crate::purchasing::{self, Refunded};
use crate::store::purchases;
use crate::State;
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{PaymentFailed, PaymentPurpose, PaymentRefunded, PaymentSucceeded};
use events::{CloudEvent, DomainEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

pub struct Handler(pub Arc<State>);

impl EventHandler for Handler {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec![PaymentSucceeded::TYPE, PaymentFailed::TYPE, PaymentRefunded::TYPE]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                PaymentSucceeded::TYPE => {
                    succeeded(conn, &self.0, event.data_as().map_err(HandlerError::Reject)?).await
                }
                PaymentFailed::TYPE => failed(conn, event.data_as().map_err(HandlerError::Reject)?).await,
                PaymentRefunded::TYPE => refunded(conn, &self.0, event.data_as().map_err(HandlerError::Reject)?).await,
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
    purpose: PaymentPurpose,
    reference: &str,
) -> Result<Option<purchases::Purchase>, HandlerError> {
    if purpose != PaymentPurpose::CoursePurchase {
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

async fn succeeded(conn: &mut AsyncPgConnection, state: &State, e: PaymentSucceeded) -> Result<(), HandlerError> {
    let Some(purchase) = purchase_of(conn, e.purpose, &e.reference_id).await? else {
        return Ok(());
    };
    purchasing::on_paid(conn, state, &purchase, e.payment_id).await.map_err(retry)
}

async fn failed(conn: &mut AsyncPgConnection, e: PaymentFailed) -> Result<(), HandlerError> {
    let Some(purchase) = purchase_of(conn, e.purpose, &e.reference_id).await? else {
        return Ok(());
    };
    purchasing::on_payment_failed(conn, &purchase, e.failure_code.as_deref()).await.map_err(retry)
}

async fn refunded(conn: &mut AsyncPgConnection, state: &State, e: PaymentRefunded) -> Result<(), HandlerError> {
    let Some(purchase) = purchase_of(conn, e.purpose, &e.reference_id).await? else {
        return Ok(());
    };
    match purchasing::on_refunded(conn, state, &purchase, e.total_refunded).await.map_err(retry)? {
        // The success event is processed concurrently and may not have committed yet: retry.
        Refunded::NotYetCompleted => Err(HandlerError::Retry(format!("purchase {} not completed yet", purchase.id))),
        Refunded::Applied | Refunded::Ignored => Ok(()),
    }
}
