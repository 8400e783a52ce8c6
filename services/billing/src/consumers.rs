//! The events billing consumes: void requests from marketplace and subscriptions (contract V).
//! Each is recorded in the transaction that writes the inbox row; the void worker does the rest.

use crate::voids::{self, MARKETPLACE_VOID_REQUESTED, SUBSCRIPTIONS_VOID_REQUESTED};
use diesel_async::AsyncPgConnection;
use events::{CloudEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct Handler {
    /// Wakes this process's void worker once a request has committed.
    pub wake: Arc<Notify>,
}

impl EventHandler for Handler {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec![MARKETPLACE_VOID_REQUESTED, SUBSCRIPTIONS_VOID_REQUESTED]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                MARKETPLACE_VOID_REQUESTED | SUBSCRIPTIONS_VOID_REQUESTED => voids::record_request(conn, event).await,
                _ => Ok(()),
            }
        })
    }

    fn after_commit(&self, _event: &CloudEvent) {
        self.wake.notify_one();
    }
}
