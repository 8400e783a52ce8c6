use crate::support::{code, id_of, key_of, org_of, start_capturing, Caller, Stack};
use chrono::Duration;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_activations_take_exactly_ten_seats() {
    let s = Stack::start().await;
    let license = s.license(10).await;
    let key = key_of(&license);
    let org = org_of(&license);
    let members: Vec<Caller> = (0..50).map(|_| Caller::member(org)).collect();
    let results = join_all(members.iter().map(|m| s.activate(m, &key))).await;
    let mut created = 0;
    let mut full = 0;
    let mut numbers = HashSet::new();
    for res in results {
        match res.status().as_u16() {
            201 => {
                created += 1;
                let body: Value = res.json().await.unwrap();
                numbers.insert(body["seat"]["seat_number"].as_i64().unwrap());
            }
            409 => {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["code"], "seat_limit_reached");
                full += 1;
            }
            other => panic!("unexpected {other}: {:?}", res.text().await),
        }
    }
    assert_eq!((created, full), (10, 40));
    assert_eq!(numbers, (1..=10).collect::<HashSet<i64>>());
    let admin = s.admin.clone();
    let got: Value =
        s.get(&format!("/api/enterprise/licenses/{}", id_of(&license)), &admin).await.json().await.unwrap();
    assert_eq!(got["seats_used"], 10);
    assert_eq!(got["seats_available"], 0);
    let seats: Value =
        s.get(&format!("/api/enterprise/licenses/{}/seats", id_of(&license)), &admin).await.json().await.unwrap();
    assert_eq!(seats["data"].as_array().unwrap().len(), 10);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_activation_by_one_user_holds_one_seat() {
    let s = Stack::start().await;
    let license = s.license(5).await;
    let key = key_of(&license);
    let user = Caller::member(org_of(&license));
    let first = s.activate(&user, &key).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // Again, sequentially and concurrently, with the key typed differently.
    let again = s.activate(&user, &key.to_lowercase().replace('-', "")).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["seat"]["id"], first["seat"]["id"]);
    assert_eq!(again["created"], false);
    let many = join_all((0..5).map(|_| s.activate(&user, &key))).await;
    for res in many {
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["seat"]["id"], first["seat"]["id"]);
    }
    let got: Value =
        s.get(&format!("/api/enterprise/licenses/{}", id_of(&license)), &s.admin).await.json().await.unwrap();
    assert_eq!(got["seats_used"], 1);
    // With an Idempotency-Key, a retry replays the first answer.
    let other = Caller::member(org_of(&license));
    let send = || {
        s.req(Method::POST, "/api/enterprise/licenses/activate", Some(&other))
            .header("idempotency-key", "activate-once")
            .json(&serde_json::json!({"license_key": key}))
            .send()
    };
    let a = send().await.unwrap();
    assert_eq!(a.status(), 201);
    let b = send().await.unwrap();
    assert_eq!(b.status(), 201);
    assert_eq!(b.headers().get("idempotent-replayed").unwrap(), "true");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_is_caught_by_the_check_character_and_unknown_keys_say_nothing() {
    let s = Stack::start().await;
    let license = s.license(5).await;
    let key = key_of(&license);
    let user = Caller::learner();
    // Change one character to another symbol of the alphabet.
    let mut chars: Vec<char> = key.chars().collect();
    chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
    let typo: String = chars.into_iter().collect();
    let res = s.activate(&user, &typo).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_license_key");
    assert!(body["detail"].as_str().unwrap().contains("mistyped"), "{body}");
    assert_eq!(code(s.activate(&user, "not-a-key").await).await, (422, "invalid_license_key".into()));
    // A well-formed key that was never issued: 404, the same as any unknown resource.
    let unknown = licensing::domain::license_key::LicenseKey::generate().display();
    let res = s.activate(&user, &unknown).await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["detail"], "license not found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_are_released_by_their_user_or_the_org_admin_only() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let other_license = s.license(2).await;
    let (key, id, org) = (key_of(&license), id_of(&license), org_of(&license));
    let alice = Caller::member(org);
    let bob = Caller::member(org);
    assert_eq!(s.activate(&alice, &key).await.status(), 201);
    assert_eq!(s.activate(&bob, &key).await.status(), 201);
    let st = &s;
    let release = |caller: Caller, user: uuid::Uuid| {
        let path = format!("/api/enterprise/licenses/{id}/seats/{user}");
        async move { st.req(Method::DELETE, &path, Some(&caller)).send().await.unwrap() }
    };
    // Another user of the organisation, and another organisation's admin, cannot.
    assert_eq!(release(bob.clone(), alice.user).await.status(), 404);
    assert_eq!(release(Caller::org_admin(org_of(&other_license)), alice.user).await.status(), 404);
    let res = release(alice.clone(), alice.user).await;
    assert_eq!(res.status(), 200);
    let seat: Value = res.json().await.unwrap();
    assert_eq!(seat["release_reason"], "released_by_user");
    let res = release(Caller::org_admin(org), bob.user).await;
    assert_eq!(res.status(), 200);
    let seat: Value = res.json().await.unwrap();
    assert_eq!(seat["release_reason"], "released_by_org_admin");
    assert_eq!(release(alice.clone(), alice.user).await.status(), 404);
    let got: Value = s.get(&format!("/api/enterprise/licenses/{id}"), &s.admin).await.json().await.unwrap();
    assert_eq!(got["seats_used"], 0);
    assert_eq!(got["peak_seats_used"], 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_releases_seats_when_the_clock_passes_it() {
    let (s, mut events) = start_capturing(crate::support::start_time()).await;
    let license = s.license_valid_for(5, Duration::days(1)).await;
    let (key, id, org) = (key_of(&license), id_of(&license), org_of(&license));
    let members: Vec<Caller> = (0..3).map(|_| Caller::member(org)).collect();
    for m in &members {
        assert_eq!(s.activate(m, &key).await.status(), 201);
    }
    for _ in 0..3 {
        events.expect("licensing.seat.activated.v1", std::time::Duration::from_secs(10)).await;
    }
    // Nothing expires before its time.
    s.clock.advance(Duration::hours(23));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got: Value = s.get(&format!("/api/enterprise/licenses/{id}"), &s.admin).await.json().await.unwrap();
    assert_eq!(got["status"], "active");

    s.clock.advance(Duration::hours(2));
    // Seat releases come first (written before the license event, in the same transaction).
    let mut released = HashSet::new();
    let expired = loop {
        let e = events.next(std::time::Duration::from_secs(10)).await.expect("expiry events");
        match e.event_type.as_str() {
            "licensing.seat.released.v1" => {
                assert_eq!(e.data["reason"], "license_expired");
                assert_eq!(e.data["license_id"], id.as_str());
                released.insert(e.data["user_id"].as_str().unwrap().to_string());
            }
            "licensing.license.expired.v1" => break e,
            _ => {}
        }
    };
    assert_eq!(expired.data["license_id"], id.as_str());
    assert_eq!(expired.data["seats_released"], 3);
    let expected: HashSet<String> = members.iter().map(|m| m.user.to_string()).collect();
    assert_eq!(released, expected);
    let got: Value = s.get(&format!("/api/enterprise/licenses/{id}"), &s.admin).await.json().await.unwrap();
    assert_eq!(got["status"], "expired");
    assert_eq!(got["seats_used"], 0);
    assert_eq!(code(s.activate(&Caller::member(org), &key).await).await, (403, "license_expired".into()));
    s.stop().await;
}

/// Seat numbers: the next one off the index while there are no holes, and a released number is
/// given out again before the numbers grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lowest_free_seat_number_is_taken() {
    let s = Stack::start().await;
    let license = s.license(3).await;
    let (key, id, org) = (key_of(&license), id_of(&license), org_of(&license));
    let number = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        body["seat"]["seat_number"].as_i64().unwrap()
    };
    let members: Vec<Caller> = (0..5).map(|_| Caller::member(org)).collect();
    for (m, expected) in members[..3].iter().zip([1, 2, 3]) {
        assert_eq!(number(s.activate(m, &key).await).await, expected);
    }
    let release = |caller: &Caller| {
        let path = format!("/api/enterprise/licenses/{id}/seats/{}", caller.user);
        s.req(Method::DELETE, &path, Some(caller)).send()
    };
    assert_eq!(release(&members[1]).await.unwrap().status(), 200);
    assert_eq!(number(s.activate(&members[3], &key).await).await, 2, "the hole is filled first");
    assert_eq!(release(&members[2]).await.unwrap().status(), 200);
    assert_eq!(number(s.activate(&members[4], &key).await).await, 3, "no hole: the next number");
    s.stop().await;
}
