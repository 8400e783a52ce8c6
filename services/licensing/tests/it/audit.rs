//! licensing's audited actions: license create / suspend / reinstate / extend / revoke, an admin
//! releasing a member's seat and a ticket's status change, each written with its action; an
//! action refused writes nothing; the chain verifies.

use crate::support::{id_of, key_of, org_of, Caller, Stack};
use reqwest::Method;
use serde_json::{json, Value};

async fn audit(s: &Stack, query: &str) -> Vec<Value> {
    let res = s.get(&format!("/api/admin/audit/licensing{query}"), &s.admin).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_license_action_is_audited_and_refusals_are_not() {
    let s = Stack::start().await;
    let license = s.license(3).await;
    let id = id_of(&license);
    let base = format!("/api/enterprise/licenses/{id}");
    let member = Caller::member(org_of(&license));
    assert_eq!(s.activate(&member, &key_of(&license)).await.status(), 201);
    assert_eq!(s.post(&format!("{base}/suspend"), &s.admin, json!({"reason": "unpaid"})).await.status(), 200);
    // Refused (a member may not reinstate): nothing is logged.
    assert_eq!(s.post(&format!("{base}/reinstate"), &member, json!({})).await.status(), 403);
    assert_eq!(s.post(&format!("{base}/reinstate"), &s.admin, json!({})).await.status(), 200);
    let later = (s.clock_now() + chrono::Duration::days(400)).to_rfc3339();
    assert_eq!(s.post(&format!("{base}/extend"), &s.admin, json!({"expires_at": later})).await.status(), 200);
    let release = s.req(Method::DELETE, &format!("{base}/seats/{}", member.user), Some(&s.admin)).send().await.unwrap();
    assert_eq!(release.status(), 200);
    assert_eq!(s.post(&format!("{base}/revoke"), &s.admin, json!({})).await.status(), 200);
    // Refused (revoked licenses cannot be suspended): nothing is logged.
    assert_eq!(s.post(&format!("{base}/suspend"), &s.admin, json!({})).await.status(), 409);

    let entries = audit(&s, &format!("?target=license:{id}")).await;
    assert_eq!(
        actions(&entries),
        ["license.revoke", "seat.release", "license.extend", "license.reinstate", "license.suspend", "license.create"]
    );
    let suspend = &entries[4];
    assert_eq!(suspend["actor_sub"], s.admin.user.to_string());
    assert_eq!(suspend["changes"]["before"]["status"], "active");
    assert_eq!(suspend["changes"]["after"]["status"], "suspended");
    assert_eq!(suspend["changes"]["after"]["status_reason"], "unpaid");
    assert_eq!(entries[1]["changes"]["reason"], "released_by_admin");
    assert_eq!(entries[5]["changes"]["seats"], 3);
    let mut conn = s.svc.pool.get().await.unwrap();
    let report = platform::audit::verify(&mut conn).await.unwrap();
    assert_eq!((report.checked, report.broken), (6, None));
    drop(conn);
    let res = s.get("/api/admin/audit/licensing", &member).await;
    assert_eq!(res.status(), 403);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_releasing_their_own_seat_is_not_a_privileged_action() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let id = id_of(&license);
    let member = Caller::member(org_of(&license));
    assert_eq!(s.activate(&member, &key_of(&license)).await.status(), 201);
    let path = format!("/api/enterprise/licenses/{id}/seats/{}", member.user);
    assert_eq!(s.req(Method::DELETE, &path, Some(&member)).send().await.unwrap().status(), 200);
    assert_eq!(actions(&audit(&s, &format!("?target=license:{id}")).await), ["license.create"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_status_changes_are_audited_with_before_and_after() {
    let s = Stack::start().await;
    let license = s.license(3).await;
    let org = org_of(&license);
    let member = Caller::member(org);
    let filed = s
        .post(
            "/api/enterprise/support/tickets",
            &member,
            json!({"subject": "Cannot sign in", "description": "SSO fails for everyone", "priority": "P2"}),
        )
        .await;
    assert_eq!(filed.status(), 201);
    let ticket = id_of(&filed.json::<Value>().await.unwrap());
    let path = format!("/api/enterprise/support/tickets/{ticket}/status");
    assert_eq!(s.post(&path, &s.admin, json!({"status": "in_progress"})).await.status(), 200);
    // The same status again changes nothing: nothing is logged.
    assert_eq!(s.post(&path, &s.admin, json!({"status": "in_progress"})).await.status(), 200);
    // Someone outside the organisation: 404, nothing logged.
    assert_eq!(s.post(&path, &Caller::member(uuid::Uuid::now_v7()), json!({"status": "closed"})).await.status(), 404);
    assert_eq!(s.post(&path, &Caller::org_admin(org), json!({"status": "closed"})).await.status(), 200);

    let entries = audit(&s, &format!("?target=ticket:{ticket}")).await;
    assert_eq!(actions(&entries), ["ticket.status.change", "ticket.status.change"]);
    assert_eq!(entries[1]["actor_sub"], s.admin.user.to_string());
    assert_eq!(entries[1]["actor_roles"], json!(["admin"]));
    assert_eq!(entries[1]["changes"], json!({"before": {"status": "open"}, "after": {"status": "in_progress"}}));
    assert_eq!(entries[0]["actor_roles"], json!(["org_admin"]));
    assert_eq!(entries[0]["actor_org"], org.to_string());
    assert_eq!(entries[0]["changes"], json!({"before": {"status": "in_progress"}, "after": {"status": "closed"}}));
    // The action filter finds the same two.
    let by_action = audit(&s, "?action=ticket.status.change").await;
    assert_eq!(by_action.len(), 2);
    let mut conn = s.svc.pool.get().await.unwrap();
    assert_eq!(platform::audit::verify(&mut conn).await.unwrap().broken, None);
    drop(conn);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branding_change_is_audited_with_what_was_set() {
    let s = Stack::start().await;
    let license = s.license(3).await;
    let org = org_of(&license);
    let domain = format!("learn-{}.acme.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let body = json!({
        "display_name": "Acme Academy",
        "logo_url": "https://cdn.acme.example.com/logo.svg",
        "primary_color": "#1a2b3c",
        "secondary_color": "#FFFFFF",
        "support_email": "help@acme.example.com",
        "custom_domain": domain,
    });
    let path = format!("/api/enterprise/organizations/{org}/branding");
    let put = |caller: Caller, body: Value| {
        let req = s.req(Method::PUT, &path, Some(&caller)).json(&body);
        async move { req.send().await.unwrap().status() }
    };
    let org_admin = Caller::org_admin(org);
    // Refused: another organisation's admin (404) and a bad colour (422) write nothing.
    assert_eq!(put(Caller::org_admin(uuid::Uuid::now_v7()), body.clone()).await, 404);
    let mut bad = body.clone();
    bad["primary_color"] = json!("blue");
    assert_eq!(put(org_admin.clone(), bad).await, 422);
    assert_eq!(put(org_admin.clone(), body.clone()).await, 200);

    let entries = audit(&s, &format!("?target=organization:{org}")).await;
    assert_eq!(actions(&entries), ["branding.change"]);
    assert_eq!(entries[0]["actor_sub"], org_admin.user.to_string());
    assert_eq!(entries[0]["changes"]["after"]["display_name"], "Acme Academy");
    assert_eq!(entries[0]["changes"]["after"]["custom_domain"], domain.as_str());
    assert_eq!(entries[0]["changes"]["after"]["primary_color"], "#1a2b3c");
    let by_actor = audit(&s, &format!("?actor={}", org_admin.user)).await;
    assert_eq!(actions(&by_actor), ["branding.change"]);
    s.stop().await;
}
