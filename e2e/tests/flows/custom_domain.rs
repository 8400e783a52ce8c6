//! Issue 14, item 10 through the gateway: a custom domain is served by the public branding lookup
//! only after its organisation proved control of it with a DNS TXT record.

use crate::support::{str_of, Platform, Res, User};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

async fn license_for_new_org(p: &Platform) -> Uuid {
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let body = json!({
        "organization": {"name": format!("Org {suffix}"), "domain": format!("org-{suffix}.example.com")},
        "seats": 2, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + Duration::days(30),
    });
    let res = p.post_key(&User::admin(), "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    str_of(&res.body["organization"]["id"]).parse().unwrap()
}

async fn put(p: &Platform, user: &User, org: Uuid, body: Value) -> Res {
    p.call(Method::PUT, &format!("/api/enterprise/organizations/{org}/branding"), Some(user), Some(body), None).await
}

async fn verify(p: &Platform, user: &User, org: Uuid) -> Res {
    let path = format!("/api/enterprise/organizations/{org}/custom-domain/verify");
    p.call(Method::POST, &path, Some(user), None, None).await
}

fn branding(name: &str, domain: &str) -> Value {
    json!({"display_name": name, "custom_domain": domain})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_domain_is_served_through_the_gateway_only_once_verified() {
    let p = Platform::start().await;
    let (owner, squatter) = (license_for_new_org(&p).await, license_for_new_org(&p).await);
    let (owner_admin, squatter_admin) = (User::org_admin(owner), User::org_admin(squatter));
    let domain = format!("learn-{}.victim.example", &Uuid::new_v4().simple().to_string()[..8]);
    let lookup = format!("/api/enterprise/branding?domain={domain}");

    // The squatter claims first: not served, and it cannot prove the domain.
    let claim = put(&p, &squatter_admin, squatter, branding("Squatter", &domain)).await;
    assert_eq!(claim.status, 200, "{}", claim.body);
    assert_eq!(claim.body["custom_domain_claim"]["status"], "unverified");
    assert_eq!(p.get(None, &lookup).await.status, 404);
    let res = verify(&p, &squatter_admin, squatter).await;
    assert_eq!((res.status, res.body["code"].as_str()), (422, Some("domain_verification_failed")));

    // The real owner is not blocked; it publishes its token and verifies.
    let mine = put(&p, &owner_admin, owner, branding("The Real Academy", &domain)).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let record = &mine.body["custom_domain_claim"]["verification"];
    p.dns.publish(record["name"].as_str().unwrap(), record["value"].as_str().unwrap());
    let res = verify(&p, &owner_admin, owner).await;
    assert_eq!((res.status, res.body["status"].as_str()), (200, Some("verified")), "{}", res.body);

    // The public lookup (no token) serves the owner's branding, without the claim's token.
    let served = p.get(None, &lookup).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body["display_name"], "The Real Academy");
    assert!(served.body.get("custom_domain_claim").is_none());
    // The squatter's claim is gone, and a new one is refused.
    let res = put(&p, &squatter_admin, squatter, branding("Squatter", &domain)).await;
    assert_eq!((res.status, res.body["code"].as_str()), (409, Some("custom_domain_taken")));
    p.stop().await;
}
