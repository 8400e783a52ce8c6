//! Erasure (issue 18, point 3): rewards owns the request, erases its own part (profile, friends),
//! keeps the ledger, and counts each service's confirmation once, however often it is delivered.

use crate::support::Rewards;
use chrono::Utc;
use events::catalog::erasure::{
    BillingUserErased, ErasureConfirmation, LicensingUserErased, MarketplaceUserErased, SubscriptionsUserErased,
    WebhooksUserErased,
};
use events::catalog::identity::UserErased;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

fn confirmation(erasure: Uuid, user: Uuid, service: &str) -> ErasureConfirmation {
    ErasureConfirmation { erasure_id: erasure, user_id: user, service: service.into(), erased_at: Utc::now() }
}

async fn status(s: &Rewards, id: &str) -> Value {
    let res = s.get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/admin/erasures/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn done(view: &Value) -> Vec<String> {
    let services = view["services"].as_array().unwrap();
    services.iter().filter(|s| s["status"] == "done").map(|s| s["service"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_erasure_erases_the_profile_and_friends_keeps_the_ledger_and_counts_each_service_once() {
    let s = Rewards::start().await;
    let mut bus = Capture::bind(&s.env, &["rewards.erasure.requested.v1", "*.user.erased.v1"]).await;
    s.wait_consumer().await;
    let (user, friend, admin) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let marker = format!("Erasable-{}", Uuid::new_v4().simple());
    s.award(user, 40).await;
    let put = s
        .http
        .put(s.url("/api/rewards/profile"))
        .header("x-internal-token", testkit::internal_token("rewards", &user.to_string(), &[Role::Learner]))
        .json(&json!({"display_name": marker}));
    assert_eq!(put.send().await.unwrap().status(), 200);
    let asked = s.post(user, &[Role::Learner], "/api/friends/requests", None, json!({"user_id": friend})).await;
    assert!(asked.status().is_success(), "{}", asked.status());
    let accept =
        s.post(friend, &[Role::Learner], &format!("/api/friends/requests/{user}/accept"), None, json!({})).await;
    assert_eq!(accept.status(), 200);

    // Admins only; the key replays the same request.
    let path = format!("/api/admin/users/{user}/erasure");
    assert_eq!(s.post(user, &[Role::Learner], &path, Some("k1"), json!(null)).await.status(), 403);
    let first = s.post(admin, &[Role::Admin], &path, Some("erase-1"), json!(null)).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    assert_eq!((first["status"].as_str(), first["origin"].as_str()), (Some("requested"), Some("admin")));
    let again: Value = s.post(admin, &[Role::Admin], &path, Some("erase-1"), json!(null)).await.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    let requested = bus.expect("rewards.erasure.requested.v1", Duration::from_secs(10)).await;
    assert_eq!(requested.data["user_id"], json!(user));
    let own = bus.expect("rewards.user.erased.v1", Duration::from_secs(10)).await;
    assert_eq!(own.data["erasure_id"], json!(id));
    let view = testkit::eventually("rewards' own confirmation", Duration::from_secs(15), || async {
        let view = status(&s, &id).await;
        (done(&view) == ["rewards"]).then_some(view)
    })
    .await;
    assert_eq!(view["status"], "in_progress");

    // Rewards' part is done: no name, no friends; the ledger is untouched.
    let mut conn = s.conn().await;
    let hits = platform::erasure::find_strings(&mut conn, &s.env.schema("rewards"), &[&marker]).await.unwrap();
    assert!(hits.is_empty(), "left behind: {hits:?}");
    drop(conn);
    let friends: Value = s.json(friend, "/api/friends").await;
    assert_eq!(friends["data"].as_array().unwrap().len(), 0, "{friends}");
    assert_eq!(s.balance_of(user).await, 40);
    s.assert_books_balance().await;

    // A redelivered request erases and confirms nothing twice (the inbox).
    testkit::bus::publish_raw(&s.env, &requested).await;
    // The other services answer, billing twice (at-least-once delivery).
    let erasure: Uuid = id.parse().unwrap();
    s.publish(&BillingUserErased(confirmation(erasure, user, "billing"))).await;
    s.publish(&BillingUserErased(confirmation(erasure, user, "billing"))).await;
    s.publish(&SubscriptionsUserErased(confirmation(erasure, user, "subscriptions"))).await;
    s.publish(&MarketplaceUserErased(confirmation(erasure, user, "marketplace"))).await;
    s.publish(&WebhooksUserErased(confirmation(erasure, user, "webhooks"))).await;
    let before_last = status(&s, &id).await;
    assert_ne!(before_last["status"], "completed", "licensing has not confirmed yet");
    s.publish(&LicensingUserErased(confirmation(erasure, user, "licensing"))).await;
    let view = testkit::eventually("the request to complete", Duration::from_secs(15), || async {
        let view = status(&s, &id).await;
        (view["status"] == "completed").then_some(view)
    })
    .await;
    assert_eq!(done(&view).len(), 6, "{view}");
    assert!(view["completed_at"].is_string());
    s.wait_drained().await;
    let mut seen = Vec::new();
    while let Some(e) = bus.next(Duration::from_millis(700)).await {
        seen.push(e.event_type);
    }
    assert!(!seen.contains(&"rewards.user.erased.v1".to_string()), "confirmed twice: {seen:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_providers_event_opens_one_request_however_often_it_is_delivered() {
    let s = Rewards::start().await;
    let mut bus = Capture::bind(&s.env, &["rewards.erasure.requested.v1"]).await;
    s.wait_consumer().await;
    let user = Uuid::now_v7();
    let envelope = s.publish(&UserErased { user_id: user, erased_at: Utc::now() }).await;
    testkit::bus::publish_raw(&s.env, &envelope).await;
    let requested = bus.expect("rewards.erasure.requested.v1", Duration::from_secs(10)).await;
    assert_eq!((requested.data["user_id"].clone(), requested.data["origin"].clone()), (json!(user), json!("identity")));
    s.wait_drained().await;
    assert!(bus.next(Duration::from_millis(700)).await.is_none(), "one request per event");
    let view = status(&s, requested.data["erasure_id"].as_str().unwrap()).await;
    assert_eq!(view["origin"], "identity");
    let unknown = s.get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/admin/erasures/{}", Uuid::now_v7())).await;
    assert_eq!(unknown.status(), 404);
    s.stop().await;
}
