//! Erasure, licensing's part: the text of the user's tickets (subject, description, every comment
//! on them, the agents' included) is erased; the tickets' SLA facts stay; the user's seats are
//! released; a redelivered request changes nothing.

use crate::support::{code, id_of, key_of, org_of, start_capturing, start_time, Caller, Stack};
use serde_json::{json, Value};
use std::time::Duration;

async fn ticket(s: &Stack, caller: &Caller, subject: &str) -> Value {
    let body = json!({"subject": subject, "description": format!("{subject}: details"), "priority": "P2"});
    let res = s.post("/api/enterprise/support/tickets", caller, body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

async fn comment(s: &Stack, caller: &Caller, ticket: &str, text: &str) {
    let res =
        s.post(&format!("/api/enterprise/support/tickets/{ticket}/comments"), caller, json!({"body": text})).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_erases_the_users_ticket_text_keeps_the_tickets_and_confirms_once() {
    let s = Stack::start().await;
    let license = s.license(5).await;
    let org = org_of(&license);
    let (member, colleague, agent) = (Caller::member(org), Caller::member(org), Caller::admin());
    let marker = format!("Erasable-{}", uuid::Uuid::new_v4().simple());
    let own = ticket(&s, &member, &format!("{marker} cannot sign in")).await;
    comment(&s, &agent, &id_of(&own), &format!("Hello {marker}, we are on it")).await;
    let theirs = ticket(&s, &colleague, "Invoices missing").await;
    // Members see their own tickets only: the member's words elsewhere are on their own ticket.
    comment(&s, &member, &id_of(&own), &format!("Still broken, {marker}")).await;
    comment(&s, &agent, &id_of(&theirs), "Looking into the invoices").await;

    let read = |id: String| {
        let path = format!("/api/enterprise/support/tickets/{id}");
        let agent = agent.clone();
        let s = &s;
        async move { s.get(&path, &agent).await.json::<Value>().await.unwrap() }
    };
    let before = read(id_of(&own)).await;

    testkit::erasure::erase_and_redeliver(&s.env, "licensing", member.user).await;

    let hits = testkit::erasure::leftovers(&s.env.schema("licensing"), &[&marker]).await;
    assert!(hits.is_empty(), "left behind: {hits:?}");
    let kept = read(id_of(&own)).await;
    assert_eq!((kept["subject"].as_str(), kept["priority"].as_str()), (Some("[erased]"), Some("P2")), "{kept}");
    assert_eq!(kept["sla"], before["sla"], "the SLA facts stay");
    let other = read(id_of(&theirs)).await;
    assert_eq!(other["subject"], "Invoices missing", "another user's ticket keeps its text");
    s.stop().await;
}

/// An erased member's seat goes back to the organisation, announced like any release (so
/// subscriptions revokes the Enterprise grant), once however often the request is delivered; a
/// colleague's seat stays, and the freed seat can be taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_releases_the_users_seats_once_and_announces_it() {
    let (s, mut events) = start_capturing(start_time()).await;
    let license = s.license(2).await;
    let (key, id, org) = (key_of(&license), id_of(&license), org_of(&license));
    let (member, colleague) = (Caller::member(org), Caller::member(org));
    for caller in [&member, &colleague] {
        assert_eq!(s.activate(caller, &key).await.status(), 201);
        events.expect("licensing.seat.activated.v1", Duration::from_secs(10)).await;
    }
    assert_eq!(code(s.activate(&Caller::member(org), &key).await).await, (409, "seat_limit_reached".into()));

    testkit::erasure::erase_and_redeliver(&s.env, "licensing", member.user).await;

    let released = events.expect("licensing.seat.released.v1", Duration::from_secs(10)).await;
    assert_eq!(released.data["reason"], "user_erased");
    assert_eq!(released.data["user_id"], member.user.to_string());
    assert_eq!(released.data["license_id"], id.as_str());
    let more = events.drain(Duration::from_millis(500)).await;
    assert!(more.iter().all(|e| e.event_type != "licensing.seat.released.v1"), "released once: {more:?}");
    let got: Value = s.get(&format!("/api/enterprise/licenses/{id}"), &s.admin).await.json().await.unwrap();
    assert_eq!(got["seats_used"], 1, "{got}");
    let mine: Value = s.get("/api/enterprise/seats/me", &colleague).await.json().await.unwrap();
    assert!(mine.to_string().contains(&colleague.user.to_string()), "the colleague keeps theirs: {mine}");
    assert_eq!(s.activate(&Caller::member(org), &key).await.status(), 201, "the seat is free again");
    s.stop().await;
}
