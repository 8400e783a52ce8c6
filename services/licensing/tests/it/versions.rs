//! Issue 14, item 5: every license and seat event carries `license_version`, strictly increasing
//! over the events of one license, so consumers can apply them in any delivery order.

use crate::support::{id_of, key_of, org_of, start_capturing, Caller};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration as StdDuration;
use testkit::bus::Capture;

/// `(type, data)` of the licensing events that arrive within a short window, until `n` license or
/// seat events are in.
async fn license_events(capture: &mut Capture, n: usize) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = capture.next(StdDuration::from_secs(10)).await.expect("more license and seat events");
        if e.event_type.starts_with("licensing.license.") || e.event_type.starts_with("licensing.seat.") {
            out.push((e.event_type.clone(), e.data.clone()));
        }
    }
    out
}

fn version(data: &Value) -> i64 {
    data["license_version"].as_i64().unwrap_or_else(|| panic!("no license_version in {data}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_strictly_increase_over_a_license_and_its_seats() {
    let (s, mut capture) = start_capturing(crate::support::start_time()).await;
    let license = s.license(3).await;
    let (id, key) = (id_of(&license), key_of(&license));
    let member = Caller::member(org_of(&license));
    let admin = s.admin.clone();

    assert_eq!(s.activate(&member, &key).await.status(), 201);
    let path = format!("/api/enterprise/licenses/{id}/seats/{}", member.user);
    assert_eq!(s.req(Method::DELETE, &path, Some(&member)).send().await.unwrap().status(), 200);
    assert_eq!(s.activate(&member, &key).await.status(), 201);
    let post = |action: &'static str| {
        s.req(Method::POST, &format!("/api/enterprise/licenses/{id}/{action}"), Some(&admin)).send()
    };
    assert_eq!(post("suspend").await.unwrap().status(), 200);
    assert_eq!(post("reinstate").await.unwrap().status(), 200);
    let later = chrono::DateTime::parse_from_rfc3339(license["expires_at"].as_str().unwrap()).unwrap()
        + chrono::Duration::days(30);
    let res = s
        .post(&format!("/api/enterprise/licenses/{id}/extend"), &admin, serde_json::json!({"expires_at": later}))
        .await;
    assert_eq!(res.status(), 200);
    // Revoking releases the seat (its own event) before the license's.
    assert_eq!(post("revoke").await.unwrap().status(), 200);

    let got = license_events(&mut capture, 9).await;
    let types: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "licensing.license.created.v1",
            "licensing.seat.activated.v1",
            "licensing.seat.released.v1",
            "licensing.seat.activated.v1",
            "licensing.license.suspended.v1",
            "licensing.license.reinstated.v1",
            "licensing.license.extended.v1",
            "licensing.seat.released.v1",
            "licensing.license.revoked.v1",
        ]
    );
    let versions: Vec<i64> = got.iter().map(|(_, d)| version(d)).collect();
    assert_eq!(versions[0], 1, "a new license's first event is version 1");
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "versions strictly increase: {versions:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_activations_never_exceed_the_seats_and_each_takes_its_own_version() {
    let (s, mut capture) = start_capturing(crate::support::start_time()).await;
    let license = s.license(5).await;
    let key = key_of(&license);
    let org = org_of(&license);
    let members: Vec<Caller> = (0..30).map(|_| Caller::member(org)).collect();
    let results = join_all(members.iter().map(|m| s.activate(m, &key))).await;
    let created = results.iter().filter(|r| r.status() == 201).count();
    assert_eq!(created, 5);
    assert!(results.iter().all(|r| r.status() == 201 || r.status() == 409));

    let got = license_events(&mut capture, 6).await;
    assert_eq!(got[0].0, "licensing.license.created.v1");
    let activations: Vec<i64> =
        got[1..].iter().filter(|(t, _)| t == "licensing.seat.activated.v1").map(|(_, d)| version(d)).collect();
    assert_eq!(activations.len(), 5);
    let distinct: HashSet<i64> = activations.iter().copied().collect();
    assert_eq!(distinct.len(), 5, "no two events share a version: {activations:?}");
    assert!(activations.iter().all(|v| *v > version(&got[0].1)));
    // The relay publishes in commit order, and versions are taken under the license's lock.
    assert!(activations.windows(2).all(|w| w[0] < w[1]), "{activations:?}");
    // No sixth seat event follows.
    let extra = capture.drain(StdDuration::from_millis(500)).await;
    assert!(extra.iter().all(|e| e.event_type != "licensing.seat.activated.v1"));
    s.stop().await;
}
