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
