//! Seat and license events from licensing, applied last-writer-by-version (`license_version`,
//! contract L): every pair gives the same answer in both delivery orders (issue 14, items 4 and 5).

use crate::support::Stack;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

const FEATURE: &str = "team.management";

/// One member's seat on one license, with the events licensing would publish about them.
#[derive(Clone, Copy)]
struct Seat {
    user: Uuid,
    license: Uuid,
}

impl Seat {
    fn new() -> Self {
        Self { user: Uuid::now_v7(), license: Uuid::now_v7() }
    }

    fn activated(&self, version: Option<i64>, expires_at: &str) -> (&'static str, Value) {
        let mut data = json!({"seat_id": Uuid::now_v7(), "user_id": self.user, "license_id": self.license,
            "organization_id": Uuid::now_v7(), "tier": "enterprise", "seat_number": 1,
            "expires_at": expires_at, "activated_at": Utc::now()});
        with_version(&mut data, version);
        ("licensing.seat.activated.v1", data)
    }

    fn released(&self, version: Option<i64>) -> (&'static str, Value) {
        let mut data = json!({"seat_id": Uuid::now_v7(), "user_id": self.user, "license_id": self.license,
            "organization_id": Uuid::now_v7(), "reason": "released_by_user", "released_at": Utc::now()});
        with_version(&mut data, version);
        ("licensing.seat.released.v1", data)
    }

    /// The license event `kind` as licensing publishes it (each type's own fields).
    fn license(&self, kind: &'static str, version: i64, expires_at: &str) -> (&'static str, Value) {
        let now = Utc::now();
        let mut data = json!({"license_id": self.license, "organization_id": Uuid::now_v7(), "tier": "enterprise",
            "license_version": version});
        let own = match kind {
            "licensing.license.suspended.v1" => json!({"reason": null, "suspended_at": now}),
            "licensing.license.reinstated.v1" => json!({"expires_at": expires_at, "reinstated_at": now}),
            "licensing.license.extended.v1" => {
                json!({"previous_expires_at": expires_at, "expires_at": expires_at, "extended_at": now})
            }
            "licensing.license.revoked.v1" => json!({"reason": null, "seats_released": 0, "revoked_at": now}),
            "licensing.license.expired.v1" => json!({"seats_released": 0, "expires_at": expires_at, "expired_at": now}),
            other => panic!("no license event {other}"),
        };
        for (k, v) in own.as_object().unwrap() {
            data[k] = v.clone();
        }
        (kind, data)
    }
}

fn with_version(data: &mut Value, version: Option<i64>) {
    if let Some(v) = version {
        data["license_version"] = json!(v);
    }
}

const FAR: &str = "2099-01-01T00:00:00Z";

async fn deliver(s: &Stack, events: &[(&'static str, Value)]) {
    for (kind, data) in events {
        s.publish_applied(kind, data.clone()).await;
    }
}

async fn allowed(s: &Stack, user: Uuid) -> bool {
    s.feature(user, FEATURE).await["allowed"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_seat_activated_again_grants_enterprise_again() {
    let s = Stack::start().await;
    // As licensing publishes today (no versions), and with versions.
    for versions in [[None, None, None], [Some(1), Some(2), Some(3)]] {
        let seat = Seat::new();
        deliver(&s, &[seat.activated(versions[0], FAR)]).await;
        assert!(allowed(&s, seat.user).await, "activated ({versions:?})");
        deliver(&s, &[seat.released(versions[1])]).await;
        assert!(!allowed(&s, seat.user).await, "released ({versions:?})");
        deliver(&s, &[seat.activated(versions[2], FAR)]).await;
        let f = s.feature(seat.user, FEATURE).await;
        assert_eq!(f["allowed"], true, "activated again ({versions:?}): {f}");
        assert_eq!(f["source"], "license");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_and_license_events_apply_by_version_in_either_order() {
    let s = Stack::start().await;
    // (what happened first, what happened next, whether the member has the feature after both).
    type Case = (&'static str, fn(&Seat) -> Vec<(&'static str, Value)>, bool);
    let cases: Vec<Case> = vec![
        ("activated/released", |seat| vec![seat.activated(Some(1), FAR), seat.released(Some(2))], false),
        ("released/activated", |seat| vec![seat.released(Some(1)), seat.activated(Some(2), FAR)], true),
        (
            "activated/suspended",
            |seat| vec![seat.activated(Some(1), FAR), seat.license("licensing.license.suspended.v1", 2, FAR)],
            false,
        ),
        (
            "activated/revoked",
            |seat| vec![seat.activated(Some(1), FAR), seat.license("licensing.license.revoked.v1", 2, FAR)],
            false,
        ),
        (
            "activated/expired",
            |seat| vec![seat.activated(Some(1), FAR), seat.license("licensing.license.expired.v1", 2, FAR)],
            false,
        ),
    ];
    for (name, events, expected) in cases {
        for reversed in [false, true] {
            let seat = Seat::new();
            let mut evs = events(&seat);
            if reversed {
                evs.reverse();
            }
            deliver(&s, &evs).await;
            assert_eq!(allowed(&s, seat.user).await, expected, "{name}, reversed: {reversed}");
        }
    }

    // Suspension and reinstatement of a license whose seat is active: the later one wins.
    for (first, second, expected) in [
        ("licensing.license.suspended.v1", "licensing.license.reinstated.v1", true),
        ("licensing.license.reinstated.v1", "licensing.license.suspended.v1", false),
    ] {
        for reversed in [false, true] {
            let seat = Seat::new();
            deliver(&s, &[seat.activated(Some(1), FAR)]).await;
            let mut evs = vec![seat.license(first, 2, FAR), seat.license(second, 3, FAR)];
            if reversed {
                evs.reverse();
            }
            deliver(&s, &evs).await;
            assert_eq!(allowed(&s, seat.user).await, expected, "{first} then {second}, reversed: {reversed}");
        }
    }

    // Two extensions: the later end stands, whichever arrives last.
    let mut seats = Vec::new();
    for reversed in [false, true] {
        let seat = Seat::new();
        deliver(&s, &[seat.activated(Some(1), "2029-01-01T00:00:00Z")]).await;
        let mut evs = vec![
            seat.license("licensing.license.extended.v1", 2, "2030-01-01T00:00:00Z"),
            seat.license("licensing.license.extended.v1", 3, "2031-01-01T00:00:00Z"),
        ];
        if reversed {
            evs.reverse();
        }
        deliver(&s, &evs).await;
        seats.push((seat, reversed));
    }
    s.clock.set(Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap());
    for (seat, reversed) in seats {
        assert!(allowed(&s, seat.user).await, "extended/extended, reversed: {reversed}");
    }
    s.stop().await;
}

/// Every seat activation reports the license's end. When the end is the one already recorded, the
/// license's row is left alone (no write, no lock shared by every seat of the license), and the
/// version guard still holds: an older activation arriving late does not bring the old end back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_reporting_the_known_end_writes_nothing_and_an_older_one_changes_nothing() {
    let s = Stack::start().await;
    let first = Seat::new();
    let second = Seat { user: Uuid::now_v7(), license: first.license };
    let late = Seat { user: Uuid::now_v7(), license: first.license };
    let (old_end, new_end) = ("2029-01-01T00:00:00Z", "2031-01-01T00:00:00Z");
    deliver(&s, &[first.activated(Some(1), old_end), first.license("licensing.license.extended.v1", 3, new_end)]).await;
    assert_eq!(expires_version(&s, first.license).await, 3.into());
    // Activated after the extension: reports the end already recorded, so the row stays as it was.
    deliver(&s, &[second.activated(Some(4), new_end)]).await;
    assert_eq!(
        expires_version(&s, first.license).await,
        3.into(),
        "a seat reporting the known end rewrote the license's row"
    );
    // Activated before the extension, delivered last: its older end is refused by version 3.
    deliver(&s, &[late.activated(Some(2), old_end)]).await;
    assert_eq!(expires_version(&s, first.license).await, 3.into());
    s.clock.set(Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap());
    for seat in [first, second, late] {
        assert!(allowed(&s, seat.user).await, "the extended end stands for every member");
    }
    // A seat reporting an end not recorded yet (its extension still on the way) is applied.
    let fourth = Seat { user: Uuid::now_v7(), license: first.license };
    deliver(&s, &[fourth.activated(Some(6), "2032-01-01T00:00:00Z")]).await;
    assert_eq!(expires_version(&s, first.license).await, 6.into());
    s.stop().await;
}

/// The version the license's recorded end was written at.
async fn expires_version(s: &Stack, license: Uuid) -> rust_decimal::Decimal {
    let query = format!(
        "SELECT expires_version::numeric AS n FROM {{schema}}.licenses WHERE license_id = '{license}' AND $1::uuid IS NOT NULL"
    );
    s.number(&query, license).await
}
