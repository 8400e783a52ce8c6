//! Test clocks (issue 23) in licensing: a license on a clock is created and judged in the clock's
//! time, its tickets' actions are stamped with it (so their SLA timers agree with the clock), its
//! view names the clock; a deleted clock takes no new license and its licenses stay frozen.

use crate::support::{id_of, key_of, org_of, Caller, Stack};
use crate::tickets::{at, comment, file, set_status, time};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

/// Create a license on `clock` (as the admin): the answer's status and body.
async fn create_on(s: &Stack, clock: Uuid, starts: DateTime<Utc>, expires: DateTime<Utc>) -> (u16, Value) {
    let domain = format!("clock-{}.example.com", &Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({
        "organization": {"name": "Clocked", "domain": domain}, "seats": 3, "tier": "enterprise",
        "starts_at": starts, "expires_at": expires, "test_clock": clock,
    });
    let res = s.create_license_as(&s.admin, body).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The admin's clock reads `to`, in licensing's copy.
async fn advance(s: &Stack, clock: Uuid, to: DateTime<Utc>) {
    testkit::test_clocks::advance(&s.env, &s.svc, "licensing", clock, s.admin.user, to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_license_on_a_test_clock_and_its_tickets_live_in_the_clocks_time() {
    let t0 = at(2030, 1, 7, 10, 0);
    let s = Stack::start_clocked(t0).await;
    // The clock is a month ahead of the service's time.
    let tc = t0 + Duration::days(30);
    let clock = Uuid::now_v7();
    advance(&s, clock, tc).await;

    // `expires_at` must be in the clock's future, not just the wall's.
    let (status, refused) = create_on(&s, clock, t0 - Duration::hours(1), t0 + Duration::days(10)).await;
    assert_eq!((status, refused["errors"][0]["field"].clone()), (422, json!("expires_at")), "{refused}");
    let (status, license) = create_on(&s, clock, t0 - Duration::hours(1), tc + Duration::days(10)).await;
    assert_eq!(status, 201, "{license}");
    assert_eq!(license["test_clock"], json!(clock), "the view names its clock");
    assert_eq!(time(&license["created_at"]), tc, "created at the clock's now");
    let path = format!("/api/enterprise/licenses/{}", id_of(&license));
    let got: Value = s.get(&path, &s.admin).await.json().await.unwrap();
    assert_eq!(got["test_clock"], json!(clock));

    let member = Caller::member(org_of(&license));
    assert_eq!(s.activate(&member, &key_of(&license)).await.status(), 201);
    let ticket = file(&s, &member, "P1").await;
    let id = id_of(&ticket);
    assert_eq!(time(&ticket["created_at"]), tc);
    assert_eq!(time(&ticket["sla"]["first_response"]["due_at"]), tc + Duration::hours(1));

    // Every action is stamped with the clock's time: 20 minutes, a 3 h pause, 10 minutes more
    // (the numbers of `tickets::the_clock_pauses_while_waiting_on_the_customer`, in clock time).
    advance(&s, clock, tc + Duration::minutes(20)).await;
    let waiting = set_status(&s, &s.admin, &id, "waiting_on_customer").await;
    assert_eq!(waiting["sla"]["paused"], true);
    assert_eq!(time(&waiting["updated_at"]), tc + Duration::minutes(20));
    advance(&s, clock, tc + Duration::minutes(200)).await;
    let reopened = comment(&s, &member, &id, "Here are the logs").await;
    assert_eq!(reopened["status"], "open");
    assert_eq!(time(&reopened["sla"]["first_response"]["due_at"]), tc + Duration::minutes(240));
    assert_eq!(time(&reopened["sla"]["resolution"]["due_at"]), tc + Duration::minutes(420));
    advance(&s, clock, tc + Duration::minutes(210)).await;
    let answered = comment(&s, &s.admin, &id, "Looking into it").await;
    assert_eq!(time(&answered["sla"]["first_response"]["met_at"]), tc + Duration::minutes(210));
    assert_eq!(answered["sla"]["first_response"]["breached"], false);
    assert_eq!(time(&answered["comments"][0]["created_at"]), tc + Duration::minutes(210));

    // Past the resolution target in the clock's time: breached in every view, though the
    // service's own time has not moved.
    advance(&s, clock, tc + Duration::minutes(421)).await;
    let got: Value = s.get(&format!("/api/enterprise/support/tickets/{id}"), &member).await.json().await.unwrap();
    assert_eq!(got["sla"]["resolution"]["breached"], true, "{got}");
    let resolved = set_status(&s, &s.admin, &id, "resolved").await;
    assert_eq!(time(&resolved["resolved_at"]), tc + Duration::minutes(421));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_test_clock_takes_no_new_license_and_its_licenses_stay_frozen() {
    let t0 = at(2030, 1, 7, 10, 0);
    let s = Stack::start_clocked(t0).await;
    let clock = Uuid::now_v7();
    advance(&s, clock, t0).await;
    let (status, license) = create_on(&s, clock, t0 - Duration::hours(1), t0 + Duration::days(1)).await;
    assert_eq!(status, 201, "{license}");

    // Deleted at a time past the license's end (the advance that got it there never reached
    // licensing): no pass runs for a deleted clock, so the license is not expired.
    testkit::test_clocks::delete(&s.env, &s.svc, "licensing", clock, s.admin.user, t0 + Duration::days(2)).await;
    let (status, refused) = create_on(&s, clock, t0 - Duration::hours(1), t0 + Duration::days(5)).await;
    assert_eq!((status, refused["errors"][0]["field"].clone()), (422, json!("test_clock")), "{refused}");
    // Nor does the service's own time move it.
    s.clock.advance(Duration::days(3));
    tokio::time::sleep(StdDuration::from_millis(700)).await;
    let got: Value =
        s.get(&format!("/api/enterprise/licenses/{}", id_of(&license)), &s.admin).await.json().await.unwrap();
    assert_eq!(got["status"], "active", "{got}");
    s.stop().await;
}
