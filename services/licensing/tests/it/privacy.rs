//! licensing's part of the data-subject export: the member's seats, the licenses they hold them
//! on, their usage and tickets; none of another member's; who may ask and the audit entry of an
//! admin's read.

use crate::support::{id_of, key_of, Caller, Stack};
use serde_json::{json, Value};
use testkit::privacy::{assert_access, assert_mentions_none, own, rows};

async fn ticket(s: &Stack, caller: &Caller, text: &str) -> String {
    let res = s
        .post(
            "/api/enterprise/support/tickets",
            caller,
            json!({"subject": text, "description": text, "priority": "P3"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    id_of(&res.json::<Value>().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_members_seat_license_usage_and_tickets_only() {
    let s = Stack::start().await;
    let license = s.license(3).await;
    let key = key_of(&license);
    let (ada, bob) = (Caller::learner(), Caller::learner());
    for member in [&ada, &bob] {
        assert_eq!(s.activate(member, &key).await.status(), 201);
    }
    let adas = ticket(&s, &ada, "ada-marker SSO").await;
    let bobs = ticket(&s, &bob, "bob-marker billing").await;
    let answer = s
        .post(&format!("/api/enterprise/support/tickets/{adas}/comments"), &s.admin, json!({"body": "agent-reply"}))
        .await;
    assert_eq!(answer.status(), 201, "{:?}", answer.text().await);

    let export = own(&s.svc.url(), "licensing", ada.user).await;
    assert_eq!(rows(&export, "seats").len(), 1, "{export}");
    let licenses = rows(&export, "licenses");
    assert_eq!(licenses.len(), 1, "{export}");
    assert_eq!(licenses[0]["id"], license["id"], "{export}");
    assert!(licenses[0]["organization_name"].as_str().is_some(), "{export}");
    assert!(licenses[0].get("license_key").is_none(), "the organisation's key is not the member's: {export}");
    assert!(!rows(&export, "usage").is_empty(), "{export}");
    let tickets = rows(&export, "tickets");
    assert_eq!((tickets.len(), tickets[0]["id"].as_str()), (1, Some(&*adas)), "{export}");
    let comments = rows(&export, "ticket_comments");
    assert!(comments.iter().any(|c| c["body"] == "agent-reply" && c["author_role"] != "member"), "{export}");
    assert!(comments.iter().all(|c| c.get("author_id").is_none()), "agents by role only: {export}");
    assert_mentions_none(&export, &[bob.user.to_string(), bobs, "bob-marker".into(), s.admin.user.to_string(), key]);
    assert_access(&s.svc.url(), "licensing", &s.svc.pool, ada.user).await;
    s.stop().await;
}
