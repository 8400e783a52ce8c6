//! Test clocks (issue 23) from one service's own tests: announce a clock's time, or its deletion,
//! as subscriptions does (`subscriptions.test_clock.advanced.v1` / `.deleted.v1`), without running
//! subscriptions, and wait until the service has it in its copy (`events::test_clocks`), so that
//! what the test does next happens at that time.

use crate::bus::publish_raw;
use crate::TestEnv;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use events::catalog::subscriptions::{TestClockAdvanced, TestClockDeleted};
use events::test_clocks::test_clocks as copy;
use events::CloudEvent;
use runtime::RunningService;
use std::time::Duration;
use uuid::Uuid;

/// The clock `clock` of `owner` reads `now` (created or advanced): told to `service` (running as
/// `svc` on `env`), which has it on return.
pub async fn advance(env: &TestEnv, svc: &RunningService, service: &str, clock: Uuid, owner: Uuid, now: DateTime<Utc>) {
    let event = TestClockAdvanced { clock_id: clock, owner_id: owner, now };
    publish(env, service, &CloudEvent::new(&event, None).expect("an envelope")).await;
    wait_until_at(svc, clock, now).await;
}

/// Wait until `svc`'s copy of the clock reads `now` or later (a service that follows the clock on
/// its own, in a test that runs subscriptions).
pub async fn wait_until_at(svc: &RunningService, clock: Uuid, now: DateTime<Utc>) {
    // The database keeps microseconds.
    let now = now.trunc_subsecs(6);
    known(svc, clock, |at, _| at >= now).await;
}

/// The clock was deleted, its last time `now`: on return the service has it deleted.
pub async fn delete(env: &TestEnv, svc: &RunningService, service: &str, clock: Uuid, owner: Uuid, now: DateTime<Utc>) {
    let event = TestClockDeleted { clock_id: clock, owner_id: owner, now, deleted_at: Utc::now() };
    publish(env, service, &CloudEvent::new(&event, None).expect("an envelope")).await;
    known(svc, clock, |_, deleted| deleted).await;
}

/// Published once the service's queue exists, so that the event is not dropped unrouted.
async fn publish(env: &TestEnv, service: &str, envelope: &CloudEvent) {
    let queue = env.topology().queue(service);
    crate::eventually(&format!("{service}'s queue"), Duration::from_secs(15), || {
        let queue = queue.clone();
        async move { crate::bus::queue_depth(&queue).await }
    })
    .await;
    publish_raw(env, envelope).await;
}

async fn known(svc: &RunningService, clock: Uuid, done: impl Fn(DateTime<Utc>, bool) -> bool) {
    crate::eventually("the service's copy of the clock", Duration::from_secs(20), || async {
        let mut conn = svc.pool.get().await.expect("a connection");
        let row: Option<(DateTime<Utc>, Option<DateTime<Utc>>)> = copy::table
            .find(clock)
            .select((copy::now, copy::deleted_at))
            .first(&mut conn)
            .await
            .optional()
            .expect("the copy of the clock");
        row.filter(|(at, deleted)| done(*at, deleted.is_some())).map(|_| ())
    })
    .await;
}
