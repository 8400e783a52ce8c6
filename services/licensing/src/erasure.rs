//! Erasure, licensing's part (issue 18, point 3; the protocol is `events::erasure`). A ticket the
//! user opened keeps its SLA facts (priority, status, clocks: the organisation's contract is
//! measured by them) but loses its subject, description and every comment on it (agents' replies
//! quote the user); comments the user wrote on other tickets lose their text too. Seats stay,
//! under the user's opaque id: they are what the organisation's license was used for.

use crate::store::schema::{ticket_comments, tickets};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use uuid::Uuid;

/// What erased ticket text becomes.
pub const ERASED_TEXT: &str = "[erased]";

pub struct LicensingEraser;

impl Eraser for LicensingEraser {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let theirs: Vec<Uuid> =
                tickets::table.filter(tickets::created_by.eq(user)).select(tickets::id).load(conn).await?;
            diesel::update(
                ticket_comments::table
                    .filter(ticket_comments::author_id.eq(user).or(ticket_comments::ticket_id.eq_any(theirs))),
            )
            .set(ticket_comments::body.eq(ERASED_TEXT))
            .execute(conn)
            .await?;
            diesel::update(tickets::table.filter(tickets::created_by.eq(user)))
                .set((tickets::subject.eq(ERASED_TEXT), tickets::description.eq(ERASED_TEXT)))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
