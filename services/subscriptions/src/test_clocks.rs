//! Test clocks (issue 23, point 5): the resource API clients create and move forward in the
//! sandbox, only where `SUBSCRIPTIONS_TEST_CLOCKS=true`. Subscriptions owns them (subscriptions are
//! what clients most want to move through time, and the clock's owner is checked where they are
//! created); every service with test clocks on follows them through
//! `subscriptions.test_clock.advanced.v1` (`events::test_clocks`).

use crate::error::SubscriptionError;
use crate::store::test_clocks::{self as store, TestClock, READY};
use crate::State;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::subscriptions::{TestClockAdvanced, TestClockDeleted};
use events::outbox;
use platform::auth::Principal;
use uuid::Uuid;

/// Test clocks are a sandbox feature: everywhere else their API does not exist.
pub fn require_enabled(state: &State) -> Result<(), SubscriptionError> {
    if state.config.test_clocks {
        Ok(())
    } else {
        Err(SubscriptionError::TestClocksOff)
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    name: &str,
    frozen_time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TestClock, SubscriptionError> {
    // The maximum counts what was sent, white space included (as the document's maxLength does);
    // what is stored is the trimmed name.
    let sent = name.chars().count();
    let name = name.trim();
    if name.is_empty() || sent > 100 {
        return Err(SubscriptionError::TestClockField("name", "1-100 characters"));
    }
    let clock = TestClock {
        id: Uuid::now_v7(),
        now: frozen_time,
        updated_at: now,
        owner_id: owner,
        name: name.to_string(),
        frozen_time,
        status: READY.into(),
        created_at: now,
    };
    let created = store::insert(conn, &clock).await?;
    // The other services learn the clock (and its time) from the same event an advance sends.
    outbox::enqueue(conn, &TestClockAdvanced { clock_id: created.id, owner_id: owner, now: created.now }).await?;
    Ok(created)
}

/// Delete the clock and tell the other services: the objects on it stay frozen at its last time
/// everywhere (`events::test_clocks`).
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid, at: DateTime<Utc>) -> Result<(), SubscriptionError> {
    let clock = store::delete(conn, id, at).await?;
    let deleted = TestClockDeleted { clock_id: clock.id, owner_id: clock.owner_id, now: clock.now, deleted_at: at };
    outbox::enqueue(conn, &deleted).await?;
    Ok(())
}

/// The clock, when the caller may see it: its owner, or an admin. Anyone else gets the same
/// answer as for a clock that does not exist.
pub async fn visible(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    lock: bool,
) -> Result<TestClock, SubscriptionError> {
    let clock = if lock { store::lock(conn, id).await? } else { store::find(conn, id).await? };
    match clock {
        Some(c) if principal.is_admin() || principal.user_id().ok() == Some(c.owner_id) => Ok(c),
        _ => Err(SubscriptionError::TestClockNotFound),
    }
}

/// Move the clock forward to `to` and tell the other services. Idempotent by the route's
/// Idempotency-Key; a `to` equal to the clock's time changes nothing and publishes nothing.
pub async fn advance(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    to: DateTime<Utc>,
) -> Result<TestClock, SubscriptionError> {
    let clock = visible(conn, principal, id, true).await?;
    if to < clock.now {
        return Err(SubscriptionError::TestClockField("to", "a test clock only moves forward"));
    }
    if to == clock.now {
        return Ok(clock);
    }
    let moved = store::advance(conn, id, to).await?;
    outbox::enqueue(conn, &TestClockAdvanced { clock_id: id, owner_id: moved.owner_id, now: to }).await?;
    Ok(moved)
}

/// What a create may attach to: a clock of the caller's own, and only where clocks are on.
pub async fn attachable(
    conn: &mut AsyncPgConnection,
    state: &State,
    user: Uuid,
    clock: Option<Uuid>,
) -> Result<Option<Uuid>, SubscriptionError> {
    let Some(id) = clock else { return Ok(None) };
    if !state.config.test_clocks {
        return Err(SubscriptionError::TestClockField("test_clock", "test clocks are not enabled here"));
    }
    if events::test_clocks::owned_by(conn, id, user).await? {
        Ok(Some(id))
    } else {
        Err(SubscriptionError::TestClockField("test_clock", "no such test clock of yours"))
    }
}
