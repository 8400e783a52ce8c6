//! Erasing a user in every service, once (issue 18, point 3). A service hands its event handler
//! (if any) and its [`Eraser`] (the SQL for its own tables, in its `erasure.rs`) to [`with_erasure`];
//! the result also consumes `rewards.erasure.requested.v1`: in the consumer's transaction (so the
//! inbox makes a redelivery a no-op) it runs the eraser, scrubs the tables every service has
//! (`platform::erasure::scrub_shared`) and writes the service's `<service>.user.erased.v1`
//! confirmation to the outbox. Rewards owns the request record and counts the confirmations.

use crate::catalog::erasure::{
    BillingUserErased, ErasureConfirmation, ErasureRequested, LicensingUserErased, MarketplaceUserErased,
    RewardsUserErased, SubscriptionsUserErased, WebhooksUserErased,
};
use crate::catalog::DomainEvent;
use crate::{outbox, CloudEvent, EventHandler, HandlerError};
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

/// One service's part of an erasure: delete or pseudonymise the person's data in its own tables,
/// keep its financial records (detached from the person). Runs inside the consumer's transaction;
/// must be idempotent in effect (a second run finds nothing left to erase).
pub trait Eraser: Send + Sync + 'static {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user_id: Uuid) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// `inner` (the service's own handlers, if any) plus the erasure request, answered by `eraser`.
pub fn with_erasure(
    service: &'static str,
    inner: Option<Arc<dyn EventHandler>>,
    eraser: Arc<dyn Eraser>,
) -> Arc<dyn EventHandler> {
    Arc::new(WithErasure { service, inner, eraser })
}

struct WithErasure {
    service: &'static str,
    inner: Option<Arc<dyn EventHandler>>,
    eraser: Arc<dyn Eraser>,
}

impl EventHandler for WithErasure {
    fn subscriptions(&self) -> Vec<&'static str> {
        let mut types = self.inner.as_ref().map(|h| h.subscriptions()).unwrap_or_default();
        if !types.contains(&ErasureRequested::TYPE) {
            types.push(ErasureRequested::TYPE);
        }
        types
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        if event.event_type == ErasureRequested::TYPE {
            return Box::pin(async move {
                let request: ErasureRequested = event.data_as().map_err(HandlerError::Reject)?;
                erase(conn, self.service, self.eraser.as_ref(), &request).await?;
                // A handler that wants the request itself (webhooks, bound to every type, delivers
                // it to partners so they erase too) gets it after the erasure, in the same
                // transaction: what it stores is not erased again.
                match &self.inner {
                    Some(inner) if wants(inner.as_ref(), ErasureRequested::TYPE) => inner.handle(conn, event).await,
                    _ => Ok(()),
                }
            });
        }
        match &self.inner {
            Some(inner) => inner.handle(conn, event),
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn concerns(&self, event: &CloudEvent) -> bool {
        event.event_type == ErasureRequested::TYPE || self.inner.as_ref().is_none_or(|inner| inner.concerns(event))
    }

    fn after_commit(&self, event: &CloudEvent) {
        if let Some(inner) = &self.inner {
            inner.after_commit(event);
        }
    }
}

/// Does `handler` subscribe to `event_type`, by name or through the topic wildcard `#`?
fn wants(handler: &dyn EventHandler, event_type: &str) -> bool {
    handler.subscriptions().iter().any(|t| *t == event_type || *t == "#")
}

/// This service's erasure and its confirmation, in the caller's transaction.
pub async fn erase(
    conn: &mut AsyncPgConnection,
    service: &str,
    eraser: &dyn Eraser,
    request: &ErasureRequested,
) -> Result<(), HandlerError> {
    eraser.erase(conn, request.user_id).await?;
    platform::erasure::scrub_shared(conn, request.user_id).await?;
    let confirmation = ErasureConfirmation {
        erasure_id: request.erasure_id,
        user_id: request.user_id,
        service: service.to_string(),
        erased_at: Utc::now(),
    };
    let c = confirmation;
    match service {
        "billing" => outbox::enqueue(conn, &BillingUserErased(c)).await?,
        "subscriptions" => outbox::enqueue(conn, &SubscriptionsUserErased(c)).await?,
        "marketplace" => outbox::enqueue(conn, &MarketplaceUserErased(c)).await?,
        "rewards" => outbox::enqueue(conn, &RewardsUserErased(c)).await?,
        "licensing" => outbox::enqueue(conn, &LicensingUserErased(c)).await?,
        "webhooks" => outbox::enqueue(conn, &WebhooksUserErased(c)).await?,
        other => return Err(HandlerError::Reject(format!("{other} takes no part in erasure"))),
    };
    tracing::info!(erasure_id = %request.erasure_id, service, "user erased");
    Ok(())
}
