//! Erasure, marketplace's part (issue 18, point 3; the protocol is `events::erasure`). A review's
//! text (and the instructor's reply to it, which may quote it) goes; its rating stays, anonymous
//! under the user's opaque id, because the course's published rating is computed from it.
//! Purchases, earnings and payouts are financial records: kept, under the opaque id.

use crate::store::schema::reviews;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use uuid::Uuid;

/// What an erased review's text becomes.
pub const ERASED_TEXT: &str = "";

pub struct MarketplaceEraser;

impl Eraser for MarketplaceEraser {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            diesel::update(reviews::table.filter(reviews::user_id.eq(user)))
                .set((reviews::body.eq(ERASED_TEXT), reviews::reply.eq(None::<String>)))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
