//! Erasure, subscriptions' part (issue 18, point 3; the protocol is `events::erasure`).
//! Subscriptions holds no personal text: subscriptions, their history, charges and entitlement
//! grants are keyed by the user's opaque id and are (or back) financial records, so they are kept.
//! The service still confirms, so an erasure is complete only when every service has answered.

use diesel_async::AsyncPgConnection;
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use uuid::Uuid;

pub struct SubscriptionsEraser;

impl Eraser for SubscriptionsEraser {
    fn erase<'a>(&'a self, _conn: &'a mut AsyncPgConnection, _user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }
}
