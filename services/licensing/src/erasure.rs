//! Erasure, licensing's part (issue 18, point 3; the protocol is `events::erasure`). A ticket the
//! user opened keeps its SLA facts (priority, status, clocks: the organisation's contract is
//! measured by them) but loses its subject, description and every comment on it (agents' replies
//! quote the user); comments the user wrote on other tickets lose their text too. The user's
//! active seats are released (reason `user_erased`, announced like any release so subscriptions
//! revokes the Enterprise grant): the organisation paid for them and nobody can use them any more.
//! Released seats stay as history under the user's opaque id: they are what the license was used
//! for.

use crate::core::seats::release;
use crate::store::schema::{ticket_comments, tickets};
use crate::store::{licenses, seats};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::catalog::licensing::SeatReleaseReason;
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use platform::clock::Clock;
use std::sync::Arc;
use uuid::Uuid;

/// What erased ticket text becomes.
pub const ERASED_TEXT: &str = "[erased]";

pub struct LicensingEraser {
    /// What the seats' release is dated by.
    pub clock: Arc<dyn Clock>,
}

/// Give back every seat `user` holds, each under its license's lock as any release is. A
/// redelivered request finds none left.
async fn release_seats(conn: &mut AsyncPgConnection, user: Uuid, clock: &dyn Clock) -> Result<(), HandlerError> {
    for (seat, _) in seats::active_for_user(conn, user).await? {
        let Some(license) = licenses::lock(conn, seat.license_id).await? else {
            continue;
        };
        // Re-read under the lock: a concurrent release may have been first.
        let Some(seat) = seats::active_of_user(conn, license.id, user).await? else {
            continue;
        };
        release(conn, &license, &seat, SeatReleaseReason::UserErased, clock.now())
            .await
            .map_err(|e| HandlerError::Retry(format!("releasing an erased user's seat: {e}")))?;
    }
    Ok(())
}

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
            release_seats(conn, user, self.clock.as_ref()).await
        })
    }
}
