//! The "done when", against the service directly (the e2e crate drives it through the gateway).

use crate::support::{code, id_of, key_of, org_of, start_capturing, Caller};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::time::Duration as StdDuration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seats_ten_members_the_eleventh_refused_usage_full_and_a_p1_due_in_an_hour() {
    let (s, mut events) = start_capturing(crate::support::start_time()).await;
    let license = s.license(10).await;
    assert_eq!(license["tier"], "enterprise");
    let (id, key, org) = (id_of(&license), key_of(&license), org_of(&license));
    events.expect("licensing.license.created.v1", StdDuration::from_secs(10)).await;

    let members: Vec<Caller> = (0..11).map(|_| Caller::member(org)).collect();
    for m in &members[..10] {
        assert_eq!(s.activate(m, &key).await.status(), 201);
    }
    assert_eq!(code(s.activate(&members[10], &key).await).await, (409, "seat_limit_reached".into()));

    // Each activation carries what subscriptions needs to grant Enterprise features.
    let mut activated = Vec::new();
    let mut thresholds = Vec::new();
    while activated.len() < 10 || thresholds.len() < 2 {
        let e = events.next(StdDuration::from_secs(10)).await.expect("activation and threshold events");
        match e.event_type.as_str() {
            "licensing.seat.activated.v1" => {
                assert_eq!(e.data["tier"], "enterprise");
                assert_eq!(e.data["license_id"], id.as_str());
                assert_eq!(e.data["organization_id"], org.to_string());
                assert_eq!(
                    e.data["expires_at"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()),
                    Some(license["expires_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap())
                );
                activated.push(e.data["user_id"].as_str().unwrap().to_string());
            }
            "licensing.usage.threshold_reached.v1" => thresholds.push(e.data["threshold_percent"].as_u64().unwrap()),
            _ => {}
        }
    }
    assert_eq!(thresholds, vec![75, 100]);
    let expected: Vec<String> = members[..10].iter().map(|m| m.user.to_string()).collect();
    assert_eq!(activated, expected);

    let org_admin = Caller::org_admin(org);
    let usage: Value = s.get(&format!("/api/enterprise/licenses/{id}/usage"), &org_admin).await.json().await.unwrap();
    assert_eq!(usage["seats"], 10);
    assert_eq!(usage["seats_used"], 10);
    assert_eq!(usage["peak_seats_used"], 10);
    assert_eq!(usage["utilization_percent"], 100);
    assert_eq!(usage["alert_level"], 100);
    let alert_levels: Vec<u64> =
        usage["alerts"].as_array().unwrap().iter().map(|a| a["threshold_percent"].as_u64().unwrap()).collect();
    assert_eq!(alert_levels, vec![100, 75]);
    let today = usage["daily"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["seats_used"], 10);

    let now = s.clock_now();
    let res = s
        .post(
            "/api/enterprise/support/tickets",
            &org_admin,
            json!({"subject": "Outage", "description": "Nobody can open a course", "priority": "P1"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ticket: Value = res.json().await.unwrap();
    let due: DateTime<Utc> = ticket["sla"]["first_response"]["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, now + Duration::hours(1));
    assert_eq!(ticket["sla"]["first_response"]["breached"], false);
    s.stop().await;
}
