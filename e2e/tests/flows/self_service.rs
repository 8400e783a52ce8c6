//! Issue 21, point 7: the caller's own views and the one self-service write that had no test,
//! through the gateway: `POST /api/subscriptions/me/resume`, `GET /api/enterprise/seats/me`,
//! `GET /api/instructors/me/courses`.

use crate::subscription::{me, subscribe};
use crate::support::{str_of, unique_word, Platform, User};
use chrono::Duration;
use serde_json::{json, Value};
use uuid::Uuid;

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().expect("data").iter().map(|e| str_of(&e["id"])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_withdraws_a_scheduled_cancellation() {
    let p = Platform::start().await;
    let user = User::learner();
    // Nothing to resume yet: no subscription at all.
    let none = p.post(&user, "/api/subscriptions/me/resume", json!({})).await;
    assert_eq!(none.status, 404, "{}", none.body);
    assert_eq!(none.body["code"], "not_found");
    subscribe(&p, &user, "pro", "pm_card_visa").await;
    // Live, nothing scheduled: refused, nothing changes.
    let early = p.post(&user, "/api/subscriptions/me/resume", json!({})).await;
    assert_eq!(early.status, 409, "{}", early.body);
    assert_eq!(early.body["code"], "illegal_transition");

    let cancel = p.post(&user, "/api/subscriptions/me/cancel", json!({"at_period_end": true})).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["cancel_at_period_end"], true);
    let resumed = p.post(&user, "/api/subscriptions/me/resume", json!({})).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!((&resumed.body["status"], &resumed.body["cancel_at_period_end"]), (&json!("active"), &json!(false)));
    assert_eq!(me(&p, &user).await["subscription"]["cancel_at_period_end"], false);
    let changed = p
        .events
        .wait_for("subscriptions.subscription.changed.v1", |d| {
            d["user_id"] == user.id.to_string() && d["cancel_at_period_end"] == false
        })
        .await;
    assert_eq!(changed.data["tier"], "pro");
    assert_eq!(p.feature(&user, "certificates").await["allowed"], true);
    // Resuming twice: nothing is scheduled any more.
    assert_eq!(p.post(&user, "/api/subscriptions/me/resume", json!({})).await.status, 409);
    // Without a token the gateway refuses it.
    let anonymous = p.call(reqwest::Method::POST, "/api/subscriptions/me/resume", None, Some(json!({})), None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_list_their_own_seats_only() {
    let p = Platform::start().await;
    let admin = User::admin();
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let mut keys = Vec::new();
    for _ in 0..2 {
        let suffix = &Uuid::new_v4().simple().to_string()[..10];
        let body = json!({
            "organization": {"name": format!("Seats {suffix}"), "domain": format!("seats-{suffix}.example.com")},
            "seats": 2,
            "tier": "enterprise",
            "starts_at": now - Duration::hours(1),
            "expires_at": now + Duration::days(365),
        });
        let created = p.post_key(&admin, "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await;
        assert_eq!(created.status, 201, "{}", created.body);
        keys.push((str_of(&created.body["id"]), str_of(&created.body["license_key"])));
    }
    let (member, other) = (User::learner(), User::learner());
    let empty = p.get(Some(&member), "/api/enterprise/seats/me").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.body["data"], json!([]));
    for (_, key) in &keys {
        let seat = p.post(&member, "/api/enterprise/licenses/activate", json!({"license_key": key})).await;
        assert_eq!(seat.status, 201, "{}", seat.body);
    }
    let res = p.post(&other, "/api/enterprise/licenses/activate", json!({"license_key": keys[0].1})).await;
    assert_eq!(res.status, 201, "{}", res.body);

    // Newest first, one page at a time; only the caller's seats.
    let first = p.get(Some(&member), "/api/enterprise/seats/me?limit=1").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["data"][0]["license_id"], keys[1].0.as_str());
    assert_eq!(first.body["data"][0]["user_id"], member.id.to_string());
    let cursor = str_of(&first.body["next_cursor"]);
    let second = p.get(Some(&member), &format!("/api/enterprise/seats/me?limit=1&cursor={cursor}")).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["data"][0]["license_id"], keys[0].0.as_str());
    assert_eq!(second.body["next_cursor"], Value::Null);
    let theirs = p.get(Some(&other), "/api/enterprise/seats/me").await;
    assert_eq!(theirs.body["data"].as_array().unwrap().len(), 1, "{}", theirs.body);
    assert_eq!(theirs.body["data"][0]["user_id"], other.id.to_string());

    let bad = p.get(Some(&member), "/api/enterprise/seats/me?cursor=not-a-cursor").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(p.get(None, "/api/enterprise/seats/me").await.status, 401);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructors_list_their_own_courses_newest_first() {
    let p = Platform::start().await;
    let (ada, bob) = (User::instructor(), User::instructor());
    let word = unique_word();
    let first = p.publish_course(&ada, &format!("{word} mine one"), "10.00").await;
    let second = p.publish_course(&ada, &format!("{word} mine two"), "0.00").await;
    let bobs = p.publish_course(&bob, &format!("{word} not hers"), "5.00").await;

    let page = p.get(Some(&ada), "/api/instructors/me/courses?limit=1").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ids(&page.body), [str_of(&second["id"])]);
    let cursor = str_of(&page.body["next_cursor"]);
    let rest = p.get(Some(&ada), &format!("/api/instructors/me/courses?limit=1&cursor={cursor}")).await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(ids(&rest.body), [str_of(&first["id"])]);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    assert_eq!(rest.body["data"][0]["instructor_id"], ada.id.to_string());
    assert_eq!(rest.body["data"][0]["status"], "published");
    let theirs = p.get(Some(&bob), "/api/instructors/me/courses").await;
    assert_eq!(ids(&theirs.body), [str_of(&bobs["id"])]);

    let learner = p.get(Some(&User::learner()), "/api/instructors/me/courses").await;
    assert_eq!(learner.status, 403, "{}", learner.body);
    assert_eq!(learner.body["code"], "forbidden");
    assert_eq!(p.get(None, "/api/instructors/me/courses").await.status, 401);
    let bad = p.get(Some(&ada), "/api/instructors/me/courses?cursor=not-a-cursor").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    p.stop().await;
}
