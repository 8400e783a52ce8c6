//! Issue 14, item 10: a custom domain is served only after its organisation proved control of it
//! with a DNS TXT record; an unverified claim never blocks the real owner.

use crate::support::{code, org_of, Caller, Stack};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

fn branding(name: &str, domain: &str) -> Value {
    json!({"display_name": name, "primary_color": "#112233", "custom_domain": domain})
}

async fn put(s: &Stack, caller: &Caller, org: Uuid, body: Value) -> reqwest::Response {
    s.req(Method::PUT, &format!("/api/enterprise/organizations/{org}/branding"), Some(caller))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn verify(s: &Stack, caller: &Caller, org: Uuid) -> reqwest::Response {
    s.req(Method::POST, &format!("/api/enterprise/organizations/{org}/custom-domain/verify"), Some(caller))
        .send()
        .await
        .unwrap()
}

async fn lookup(s: &Stack, domain: &str) -> (u16, Value) {
    let res = s.req(Method::GET, &format!("/api/enterprise/branding?domain={domain}"), None).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn fresh_domain(label: &str) -> String {
    format!("{label}-{}.example.com", &Uuid::new_v4().simple().to_string()[..8])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_domain_is_served_only_after_its_txt_record_proves_it() {
    let s = Stack::start().await;
    let (victim, attacker) = (org_of(&s.license(2).await), org_of(&s.license(2).await));
    let (victim_admin, attacker_admin) = (Caller::org_admin(victim), Caller::org_admin(attacker));
    let domain = fresh_domain("learn");

    // The attacker claims the victim's domain first: stored unverified, never served.
    let res = put(&s, &attacker_admin, attacker, branding("Evil Academy", &domain)).await;
    assert_eq!(res.status(), 200);
    let claim: Value = res.json().await.unwrap();
    assert!(claim["custom_domain"].is_null());
    assert_eq!(claim["custom_domain_claim"]["domain"], domain.as_str());
    assert_eq!(claim["custom_domain_claim"]["status"], "unverified");
    let record = &claim["custom_domain_claim"]["verification"];
    assert_eq!(record["type"], "TXT");
    assert_eq!(record["name"], format!("_monetization-verification.{domain}"));
    let attacker_token = record["value"].as_str().unwrap().to_string();
    assert_eq!(attacker_token.len(), 64);
    assert_eq!(lookup(&s, &domain).await.0, 404);
    // Without the record, verification fails and nothing changes.
    assert_eq!(code(verify(&s, &attacker_admin, attacker).await).await, (422, "domain_verification_failed".into()));
    assert_eq!(lookup(&s, &domain).await.0, 404);

    // The real owner is not blocked by the claim: it gets its own token.
    let res = put(&s, &victim_admin, victim, branding("Victim Academy", &domain)).await;
    assert_eq!(res.status(), 200);
    let mine: Value = res.json().await.unwrap();
    let token = mine["custom_domain_claim"]["verification"]["value"].as_str().unwrap().to_string();
    assert_ne!(token, attacker_token);
    // Setting the same domain again keeps the token (a record already published still counts).
    let again: Value = put(&s, &victim_admin, victim, branding("Victim Academy", &domain)).await.json().await.unwrap();
    assert_eq!(again["custom_domain_claim"]["verification"]["value"], token.as_str());

    // The owner publishes its token; the attacker's token is not there, so it cannot verify.
    s.dns.publish(&format!("_monetization-verification.{domain}"), "some-other-site-verification=abc");
    s.dns.publish(&format!("_monetization-verification.{domain}"), &token);
    assert_eq!(code(verify(&s, &attacker_admin, attacker).await).await, (422, "domain_verification_failed".into()));
    // Only the organisation's managers verify.
    assert_eq!(verify(&s, &Caller::member(victim), victim).await.status(), 403);
    assert_eq!(verify(&s, &attacker_admin, victim).await.status(), 404);
    let res = verify(&s, &victim_admin, victim).await;
    assert_eq!(res.status(), 200);
    let verified: Value = res.json().await.unwrap();
    assert_eq!((verified["status"].as_str(), verified["domain"].as_str()), (Some("verified"), Some(domain.as_str())));
    assert!(verified["verification"].is_null());
    // Verifying again is harmless.
    assert_eq!(verify(&s, &victim_admin, victim).await.status(), 200);

    // Served now, with the owner's branding and no claim details.
    let (status, body) = lookup(&s, &domain).await;
    assert_eq!(status, 200);
    assert_eq!(body["display_name"], "Victim Academy");
    assert_eq!(body["custom_domain"], domain.as_str());
    assert!(body.get("custom_domain_claim").is_none(), "{body}");

    // The attacker's claim was released; claiming a verified domain is a 409.
    let org: Value =
        s.get(&format!("/api/enterprise/organizations/{attacker}"), &attacker_admin).await.json().await.unwrap();
    assert!(org["branding"]["custom_domain_claim"].is_null(), "{org}");
    assert!(org["branding"]["custom_domain"].is_null());
    assert_eq!(code(verify(&s, &attacker_admin, attacker).await).await, (409, "no_pending_custom_domain".into()));
    assert_eq!(
        code(put(&s, &attacker_admin, attacker, branding("Evil Academy", &domain)).await).await,
        (409, "custom_domain_taken".into())
    );
    // The owner's organisation view shows the verified domain.
    let org: Value =
        s.get(&format!("/api/enterprise/organizations/{victim}"), &victim_admin).await.json().await.unwrap();
    assert_eq!(org["branding"]["custom_domain_claim"]["status"], "verified");

    // Moving to another domain stops serving the old one until the new one is verified.
    let next = fresh_domain("academy");
    let res = put(&s, &victim_admin, victim, branding("Victim Academy", &next)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(lookup(&s, &domain).await.0, 404);
    assert_eq!(lookup(&s, &next).await.0, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_outage_is_a_503_and_changes_nothing() {
    let s = Stack::start().await;
    let org = org_of(&s.license(2).await);
    let admin = Caller::org_admin(org);
    let domain = fresh_domain("down");
    let claim: Value = put(&s, &admin, org, branding("Down Academy", &domain)).await.json().await.unwrap();
    let record = &claim["custom_domain_claim"]["verification"];
    s.dns.publish(record["name"].as_str().unwrap(), record["value"].as_str().unwrap());
    s.dns.stop();
    assert_eq!(code(verify(&s, &admin, org).await).await, (503, "dns_unavailable".into()));
    assert_eq!(lookup(&s, &domain).await.0, 404);
    let view: Value = s.get(&format!("/api/enterprise/organizations/{org}"), &admin).await.json().await.unwrap();
    assert_eq!(view["branding"]["custom_domain_claim"]["status"], "unverified");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_created_license_claims_its_custom_domain_unverified() {
    let s = Stack::start().await;
    let domain = fresh_domain("brand");
    let mut body = s.license_body(&fresh_domain("org"), 2, chrono::Duration::days(30));
    body["branding"] = branding("Admin Made", &domain);
    let res = s.create_license_as(&s.admin, body).await;
    assert_eq!(res.status(), 201);
    let org = org_of(&res.json().await.unwrap());
    assert_eq!(lookup(&s, &domain).await.0, 404);
    let view: Value = s.get(&format!("/api/enterprise/organizations/{org}"), &s.admin).await.json().await.unwrap();
    let record = &view["branding"]["custom_domain_claim"]["verification"];
    s.dns.publish(record["name"].as_str().unwrap(), record["value"].as_str().unwrap());
    assert_eq!(verify(&s, &s.admin, org).await.status(), 200);
    assert_eq!(lookup(&s, &domain).await.1["display_name"], "Admin Made");
    s.stop().await;
}
