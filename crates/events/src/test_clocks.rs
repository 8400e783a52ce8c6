//! Test clocks (issue 23, point 5), the part every service shares. Subscriptions owns the clock
//! resource (`POST /api/test-clocks`, advance, delete) and publishes
//! `subscriptions.test_clock.advanced.v1` through its outbox when one moves forward. Each service
//! with `<SVC>_TEST_CLOCKS=true`:
//! - wraps its event handler in [`with_test_clocks`], which keeps the schema's `test_clocks(id,
//!   now)` table (a shared migration) from that event: idempotent through the inbox, and monotonic,
//!   so a late or replayed event never moves a clock back;
//! - stores `test_clock_id` on the objects a caller attached to a clock;
//! - runs each scheduler's due-query once per [`Pass`]: the wall clock for the objects without a
//!   clock (and only those), then once per clock with `now` = the clock's time, restricted to the
//!   objects on it. So the objects on a clock produce the same events as if that time had passed,
//!   and nothing else moves.
//!
//! A deleted clock (`subscriptions.test_clock.deleted.v1`) stays in the table, marked: its
//! objects stay frozen at its last time ([`now_of`] still answers it, so an action on one is
//! stamped with that time), no pass runs for it, and nothing new may be attached to it
//! ([`owned_by`]). Stripe deletes the objects with the clock; here they are kept, because
//! deleting a subscription, a purchase or a license has effects (events, seats, earnings) that a
//! sandbox clean-up should not fire.
//!
//! With test clocks off the table stays empty, [`passes`] answers the wall-clock pass alone and
//! the handler does not bind the event: production behaves exactly as before.

use crate::catalog::subscriptions::{TestClockAdvanced, TestClockDeleted};
use crate::catalog::DomainEvent;
use crate::{CloudEvent, EventHandler, HandlerError};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

diesel::table! {
    test_clocks (id) {
        id -> Uuid,
        owner_id -> Uuid,
        now -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

/// One run of a scheduler's due-query: `clock: None` is the wall clock (objects with no test
/// clock), `Some(id)` the objects on that clock, as of its `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub clock: Option<Uuid>,
    pub now: DateTime<Utc>,
}

impl Pass {
    pub fn wall(now: DateTime<Utc>) -> Self {
        Self { clock: None, now }
    }
}

/// The passes a scheduler tick makes: the wall clock first, then every clock this schema knows
/// and that is not deleted (none when test clocks are off).
pub async fn passes(conn: &mut AsyncPgConnection, enabled: bool, wall: DateTime<Utc>) -> QueryResult<Vec<Pass>> {
    let mut passes = vec![Pass::wall(wall)];
    if enabled {
        let clocks: Vec<(Uuid, DateTime<Utc>)> = test_clocks::table
            .filter(test_clocks::deleted_at.is_null())
            .select((test_clocks::id, test_clocks::now))
            .order(test_clocks::id)
            .load(conn)
            .await?;
        passes.extend(clocks.into_iter().map(|(id, now)| Pass { clock: Some(id), now }));
    }
    Ok(passes)
}

/// The time of an object: its clock's when it has one (and the clock is known here; a deleted
/// clock's last time), else `wall`.
pub async fn now_of(
    conn: &mut AsyncPgConnection,
    clock: Option<Uuid>,
    wall: DateTime<Utc>,
) -> QueryResult<DateTime<Utc>> {
    let Some(id) = clock else { return Ok(wall) };
    let at = test_clocks::table.find(id).select(test_clocks::now).first(conn).await.optional()?;
    Ok(at.unwrap_or(wall))
}

/// Whether `user` may attach an object to the clock: theirs, known here and not deleted. (A
/// create refuses any other clock, with the same answer whether it exists or not.)
pub async fn owned_by(conn: &mut AsyncPgConnection, id: Uuid, user: Uuid) -> QueryResult<bool> {
    let q =
        test_clocks::table.find(id).filter(test_clocks::owner_id.eq(user)).filter(test_clocks::deleted_at.is_null());
    diesel::select(diesel::dsl::exists(q)).get_result(conn).await
}

/// Record that the clock reads `now`, never moving it back (events may arrive late or twice).
pub async fn record(conn: &mut AsyncPgConnection, clock: &TestClockAdvanced) -> QueryResult<usize> {
    diesel::insert_into(test_clocks::table)
        .values((
            test_clocks::id.eq(clock.clock_id),
            test_clocks::owner_id.eq(clock.owner_id),
            test_clocks::now.eq(clock.now),
        ))
        .on_conflict(test_clocks::id)
        .do_update()
        .set((
            test_clocks::now
                .eq(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("GREATEST(test_clocks.now, excluded.now)")),
            test_clocks::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Record that the clock was deleted, at its last time `now`. Upserts, so a deletion that
/// arrives before the clock's first event still leaves it known and deleted; a later advance
/// event (sent before the deletion) still moves its time forward, never undeletes it.
pub async fn record_deleted(conn: &mut AsyncPgConnection, clock: &TestClockDeleted) -> QueryResult<usize> {
    diesel::insert_into(test_clocks::table)
        .values((
            test_clocks::id.eq(clock.clock_id),
            test_clocks::owner_id.eq(clock.owner_id),
            test_clocks::now.eq(clock.now),
            test_clocks::deleted_at.eq(clock.deleted_at),
        ))
        .on_conflict(test_clocks::id)
        .do_update()
        .set((
            test_clocks::now
                .eq(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("GREATEST(test_clocks.now, excluded.now)")),
            test_clocks::deleted_at.eq(
                diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
                    "COALESCE(test_clocks.deleted_at, excluded.deleted_at)",
                ),
            ),
            test_clocks::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// `inner` plus `subscriptions.test_clock.advanced.v1` and `.deleted.v1` when `enabled` (the service's
/// `<SVC>_TEST_CLOCKS`); `inner` unchanged otherwise, so the event is not even bound.
pub fn with_test_clocks(enabled: bool, inner: Option<Arc<dyn EventHandler>>) -> Option<Arc<dyn EventHandler>> {
    if !enabled {
        return inner;
    }
    Some(Arc::new(WithTestClocks { inner }))
}

struct WithTestClocks {
    inner: Option<Arc<dyn EventHandler>>,
}

impl EventHandler for WithTestClocks {
    fn subscriptions(&self) -> Vec<&'static str> {
        let mut types = self.inner.as_ref().map(|h| h.subscriptions()).unwrap_or_default();
        for own in [TestClockAdvanced::TYPE, TestClockDeleted::TYPE] {
            if !types.contains(&own) {
                types.push(own);
            }
        }
        types
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        if event.event_type == TestClockAdvanced::TYPE {
            return Box::pin(async move {
                let advanced: TestClockAdvanced = event.data_as().map_err(HandlerError::Reject)?;
                record(conn, &advanced).await?;
                Ok(())
            });
        }
        if event.event_type == TestClockDeleted::TYPE {
            return Box::pin(async move {
                let deleted: TestClockDeleted = event.data_as().map_err(HandlerError::Reject)?;
                record_deleted(conn, &deleted).await?;
                Ok(())
            });
        }
        match &self.inner {
            Some(inner) => inner.handle(conn, event),
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn concerns(&self, event: &CloudEvent) -> bool {
        [TestClockAdvanced::TYPE, TestClockDeleted::TYPE].contains(&event.event_type.as_str())
            || self.inner.as_ref().is_none_or(|inner| inner.concerns(event))
    }

    fn after_commit(&self, event: &CloudEvent) {
        if let Some(inner) = &self.inner {
            inner.after_commit(event);
        }
    }
}
