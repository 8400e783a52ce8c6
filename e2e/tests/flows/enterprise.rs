//! Flow 4: an enterprise license, a member's seat, and Enterprise features.

use crate::support::{str_of, Platform, User};
use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_license_to_seat_activation_to_enterprise_features() {
    let p = Platform::start().await;
    let admin = User::admin();
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let body = json!({
        "organization": {"name": format!("Acme {suffix}"), "domain": format!("acme-{suffix}.example.com")},
        "seats": 3,
        "tier": "enterprise",
        "starts_at": now - Duration::hours(1),
        "expires_at": now + Duration::days(365),
    });
    let path = "/api/enterprise/licenses/create";
    let learner = User::learner();
    assert_eq!(p.post_key(&learner, path, body.clone(), "not-an-admin").await.status, 403);
    let key = Uuid::new_v4().to_string();
    let created = p.post_key(&admin, path, body.clone(), &key).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let replay = p.post_key(&admin, path, body, &key).await;
    assert_eq!(replay.body["id"], created.body["id"], "the same key is the same license");
    let license_id = str_of(&created.body["id"]);
    let org = str_of(&created.body["organization"]["id"]);
    let license_key = str_of(&created.body["license_key"]);

    // Before: the member is on Free.
    let member = User::learner();
    assert_eq!(p.feature(&member, "team.management").await["allowed"], false);

    let activate = "/api/enterprise/licenses/activate";
    let seat = p.post(&member, activate, json!({"license_key": license_key})).await;
    assert_eq!(seat.status, 201, "{}", seat.body);
    assert_eq!(seat.body["created"], true);
    assert_eq!(seat.body["tier"], "enterprise");
    let again = p.post(&member, activate, json!({"license_key": license_key})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["created"], false, "one seat per member");

    let f = p.wait_feature(&member, "team.management", true).await;
    assert_eq!(f["source"], "license", "{f}");
    assert_eq!(f["tier"], "enterprise", "{f}");

    // The organisation's admin sees the seat in use.
    let org_admin = User::org_admin(org.parse().expect("uuid"));
    let usage = p.get(Some(&org_admin), &format!("/api/enterprise/licenses/{license_id}/usage")).await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    assert_eq!(usage.body["seats"], 3);
    assert_eq!(usage.body["seats_used"], 1);
    let outsider = User::org_admin(Uuid::now_v7());
    assert_eq!(p.get(Some(&outsider), &format!("/api/enterprise/licenses/{license_id}/usage")).await.status, 404);

    p.events.wait_for("licensing.license.created.v1", |d| d["license_id"] == license_id.as_str()).await;
    let activated = p.events.wait_for("licensing.seat.activated.v1", |d| d["user_id"] == member.id.to_string()).await;
    assert_eq!(activated.data["license_id"], license_id.as_str());
    p.stop().await;
}
