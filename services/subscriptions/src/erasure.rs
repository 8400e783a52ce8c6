//! Erasure, subscriptions' part (issue 18, point 3; the protocol is `events::erasure`).
//! Subscriptions holds no personal text: subscriptions, their history, charges and entitlement
//! grants are keyed by the user's opaque id and are (or back) financial records, so they are kept;
//! so are the trials taken (`trial_claims`: what keeps a trial once per user and tier).
//! What must change is the future: billing deletes the person's Stripe customer, so a live
//! subscription never renews again (`operations::end_for_erasure`), in the confirming transaction.

use diesel_async::AsyncPgConnection;
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

use crate::State;

pub struct SubscriptionsEraser(pub Arc<State>);

impl Eraser for SubscriptionsEraser {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            crate::operations::end_for_erasure(conn, &self.0, user)
                .await
                .map_err(|e| HandlerError::Retry(format!("ending the erased user's subscription: {e}")))
        })
    }
}
