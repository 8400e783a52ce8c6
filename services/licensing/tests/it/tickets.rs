use crate::support::{code, id_of, org_of, start_capturing, Caller, Stack};
use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;

pub(crate) fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

pub(crate) fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap().with_timezone(&Utc)
}

pub(crate) async fn file(s: &Stack, caller: &Caller, priority: &str) -> Value {
    let res = s
        .post(
            "/api/enterprise/support/tickets",
            caller,
            json!({"subject": "Cannot sign in", "description": "SSO fails for everyone", "priority": priority}),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

pub(crate) async fn set_status(s: &Stack, caller: &Caller, ticket: &str, status: &str) -> Value {
    let res =
        s.post(&format!("/api/enterprise/support/tickets/{ticket}/status"), caller, json!({"status": status})).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    res.json().await.unwrap()
}

pub(crate) async fn comment(s: &Stack, caller: &Caller, ticket: &str, text: &str) -> Value {
    let res =
        s.post(&format!("/api/enterprise/support/tickets/{ticket}/comments"), caller, json!({"body": text})).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hour_targets_skip_the_weekend_in_the_organisations_time_zone() {
    // Friday 2030-01-04 16:00 in New York (UTC-5).
    let s = Stack::start_at(at(2030, 1, 4, 21, 0)).await;
    let license = s.license(5).await;
    let org = org_of(&license);
    let res = s
        .req(Method::PUT, &format!("/api/enterprise/organizations/{org}/business-hours"), Some(&Caller::org_admin(org)))
        .json(&json!({"time_zone": "America/New_York", "start": "09:00", "end": "17:00",
                      "days": ["mon", "tue", "wed", "thu", "fri"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let res = s
        .req(Method::PUT, &format!("/api/enterprise/organizations/{org}/business-hours"), Some(&Caller::org_admin(org)))
        .json(&json!({"time_zone": "Mars/Olympus", "start": "09:00", "end": "17:00", "days": ["mon"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    let member = Caller::member(org);
    // P3: 8 business hours = 1 h on Friday + 7 h on Monday -> Monday 16:00 New York = 21:00 UTC.
    let p3 = file(&s, &member, "P3").await;
    assert_eq!(p3["sla"]["clock"], "business_hours");
    assert_eq!(p3["sla"]["time_zone"], "America/New_York");
    assert_eq!(time(&p3["sla"]["first_response"]["due_at"]), at(2030, 1, 7, 21, 0));
    // Resolution, 40 business hours: Friday 1 h + Monday-Thursday 32 h + Friday 7 h.
    assert_eq!(time(&p3["sla"]["resolution"]["due_at"]), at(2030, 1, 11, 21, 0));
    // P1 counts around the clock.
    let p1 = file(&s, &member, "P1").await;
    assert_eq!(p1["sla"]["clock"], "24x7");
    assert_eq!(time(&p1["sla"]["first_response"]["due_at"]), at(2030, 1, 4, 22, 0));
    let bad = s
        .post("/api/enterprise/support/tickets", &member, json!({"subject": "x", "description": "y", "priority": "P9"}))
        .await;
    assert_eq!(bad.status(), 422);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_pauses_while_waiting_on_the_customer() {
    let t0 = at(2030, 1, 7, 10, 0);
    let s = Stack::start_at(t0).await;
    let license = s.license(5).await;
    let member = Caller::member(org_of(&license));
    let ticket = file(&s, &member, "P1").await;
    let id = id_of(&ticket);
    assert_eq!(time(&ticket["sla"]["first_response"]["due_at"]), t0 + Duration::hours(1));

    s.clock.advance(Duration::minutes(20));
    let waiting = set_status(&s, &s.admin, &id, "waiting_on_customer").await;
    assert_eq!(waiting["sla"]["paused"], true);
    assert!(waiting["sla"]["first_response"]["due_at"].is_null());
    // Three hours later the customer answers: the ticket reopens and the 3 h do not count.
    s.clock.advance(Duration::hours(3));
    let listed: Value = s.get("/api/enterprise/support/tickets", &member).await.json().await.unwrap();
    assert_eq!(listed["data"][0]["sla"]["first_response"]["breached"], false);
    let reopened = comment(&s, &member, &id, "Here are the logs").await;
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["sla"]["paused"], false);
    assert_eq!(time(&reopened["sla"]["first_response"]["due_at"]), t0 + Duration::minutes(240));
    assert_eq!(time(&reopened["sla"]["resolution"]["due_at"]), t0 + Duration::minutes(420));
    // The first agent comment is the first response.
    s.clock.advance(Duration::minutes(10));
    let answered = comment(&s, &s.admin, &id, "Looking into it").await;
    assert_eq!(time(&answered["sla"]["first_response"]["met_at"]), t0 + Duration::minutes(210));
    assert_eq!(answered["sla"]["first_response"]["breached"], false);
    let full: Value = s.get(&format!("/api/enterprise/support/tickets/{id}"), &member).await.json().await.unwrap();
    assert_eq!(full["comments"].as_array().unwrap().len(), 2);
    // Customers cannot resolve; they can close.
    let res =
        s.post(&format!("/api/enterprise/support/tickets/{id}/status"), &member, json!({"status": "resolved"})).await;
    assert_eq!(code(res).await, (409, "invalid_state_transition".into()));
    let closed = set_status(&s, &member, &id, "closed").await;
    assert_eq!(closed["status"], "closed");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_is_flagged_and_announced_exactly_once() {
    let t0 = at(2030, 1, 7, 10, 0);
    let (s, mut events) = start_capturing(t0).await;
    let license = s.license(5).await;
    let member = Caller::member(org_of(&license));
    let ticket = file(&s, &member, "P1").await;
    let id = id_of(&ticket);

    s.clock.advance(Duration::minutes(61));
    let e = events.expect("licensing.ticket.sla_breached.v1", StdDuration::from_secs(10)).await;
    assert_eq!(e.data["ticket_id"], id.as_str());
    assert_eq!(e.data["target"], "first_response");
    assert_eq!(e.data["priority"], "P1");
    assert_eq!(time(&e.data["due_at"]), t0 + Duration::hours(1));
    let got: Value = s.get(&format!("/api/enterprise/support/tickets/{id}"), &member).await.json().await.unwrap();
    assert_eq!(got["sla"]["first_response"]["breached"], true);
    assert_eq!(got["sla"]["resolution"]["breached"], false);
    // Many scheduler passes and a late first response later: no second announcement.
    comment(&s, &s.admin, &id, "Sorry for the wait").await;
    let more = events.drain(StdDuration::from_millis(600)).await;
    assert!(more.iter().all(|e| e.event_type != "licensing.ticket.sla_breached.v1"), "{more:?}");

    // The resolution target (4 h) is a separate breach, also announced once.
    s.clock.advance(Duration::hours(3));
    let e = events.expect("licensing.ticket.sla_breached.v1", StdDuration::from_secs(10)).await;
    assert_eq!(e.data["target"], "resolution");
    let more = events.drain(StdDuration::from_millis(600)).await;
    assert!(more.iter().all(|e| e.event_type != "licensing.ticket.sla_breached.v1"), "{more:?}");
    let list: Value = s.get("/api/enterprise/support/tickets", &member).await.json().await.unwrap();
    assert_eq!(list["data"][0]["sla"]["resolution"]["breached"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_only_their_organisations_tickets() {
    let s = Stack::start().await;
    let x = s.license(5).await;
    let y = s.license(5).await;
    let x_member = Caller::member(org_of(&x));
    let y_member = Caller::member(org_of(&y));
    let ticket = file(&s, &x_member, "P2").await;
    let id = id_of(&ticket);
    file(&s, &y_member, "P4").await;

    let mine: Value = s.get("/api/enterprise/support/tickets", &x_member).await.json().await.unwrap();
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["id"], id.as_str());
    // Y's members do not see it (nor, see below, does another member of X).
    assert_eq!(s.get(&format!("/api/enterprise/support/tickets/{id}"), &y_member).await.status(), 404);
    let res = s.post(&format!("/api/enterprise/support/tickets/{id}/comments"), &y_member, json!({"body": "hi"})).await;
    assert_eq!(res.status(), 404);
    let theirs: Value = s.get("/api/enterprise/support/tickets", &y_member).await.json().await.unwrap();
    assert!(theirs["data"].as_array().unwrap().iter().all(|t| t["id"] != id.as_str()));
    let filtered: Value = s
        .get(&format!("/api/enterprise/support/tickets?organization_id={}", org_of(&x)), &y_member)
        .await
        .json()
        .await
        .unwrap();
    assert!(filtered["data"].as_array().unwrap().is_empty());
    // Admins (support agents) see every ticket.
    let all: Value = s.get("/api/enterprise/support/tickets", &s.admin).await.json().await.unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    // Someone without a licensed organisation cannot file one.
    let res = s
        .post(
            "/api/enterprise/support/tickets",
            &Caller::learner(),
            json!({"subject": "a", "description": "b", "priority": "P1"}),
        )
        .await;
    assert_eq!(code(res).await, (403, "no_active_license".into()));
    s.stop().await;
}

/// The ids of the tickets `caller` lists with `query`.
async fn list(s: &Stack, caller: &Caller, query: &str) -> Vec<String> {
    let res = s.get(&format!("/api/enterprise/support/tickets{query}"), caller).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
}

/// Issue 15: a ticket is its author's, their organisation's `org_admin`'s and the support
/// agents' business. Another ordinary member of the same organisation can neither list, read,
/// comment on nor change it, and is told 404 as for an unknown id (the code base's rule for other
/// users' resources), so an id leaks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_its_authors_the_org_admins_and_the_agents_only() {
    let s = Stack::start().await;
    let org = org_of(&s.license(5).await);
    let other_org = org_of(&s.license(5).await);
    let (author, colleague) = (Caller::member(org), Caller::member(org));
    let org_admin = Caller::org_admin(org);
    let foreign_org_admin = Caller::org_admin(other_org);
    let theirs = id_of(&file(&s, &author, "P2").await);
    let mine = id_of(&file(&s, &colleague, "P3").await);

    // Lists: members their own, the org admin and the agents all of the organisation's.
    assert_eq!(list(&s, &author, "").await, vec![theirs.clone()]);
    assert_eq!(list(&s, &colleague, "").await, vec![mine.clone()]);
    assert_eq!(list(&s, &colleague, "?status=open").await, vec![mine.clone()]);
    let by_org = &format!("?organization_id={org}");
    assert_eq!(list(&s, &colleague, by_org).await, vec![mine.clone()]);
    assert_eq!(list(&s, &org_admin, "").await, vec![mine.clone(), theirs.clone()]);
    assert_eq!(list(&s, &org_admin, by_org).await, vec![mine.clone(), theirs.clone()]);
    assert_eq!(list(&s, &s.admin, by_org).await, vec![mine.clone(), theirs.clone()]);
    assert!(list(&s, &foreign_org_admin, "").await.is_empty());
    assert!(list(&s, &foreign_org_admin, by_org).await.is_empty());

    // Another member: 404 on every door, and nothing changes.
    let path = format!("/api/enterprise/support/tickets/{theirs}");
    for caller in [&colleague, &foreign_org_admin] {
        assert_eq!(code(s.get(&path, caller).await).await, (404, "not_found".into()));
        assert_eq!(code(s.get(&format!("{path}/comments"), caller).await).await, (404, "not_found".into()));
        let res = s.post(&format!("{path}/comments"), caller, json!({"body": "me too"})).await;
        assert_eq!(code(res).await, (404, "not_found".into()));
        let res = s.post(&format!("{path}/status"), caller, json!({"status": "closed"})).await;
        assert_eq!(code(res).await, (404, "not_found".into()));
    }
    let unchanged: Value = s.get(&path, &author).await.json().await.unwrap();
    assert_eq!(unchanged["status"], "open");
    assert!(unchanged["comments"].as_array().unwrap().is_empty());

    // The org admin reads, comments on and changes any of the organisation's tickets (as the
    // customer); the author their own; the agent anything.
    assert_eq!(s.get(&path, &org_admin).await.status(), 200);
    comment(&s, &org_admin, &theirs, "Escalating internally").await;
    assert_eq!(set_status(&s, &s.admin, &theirs, "in_progress").await["status"], "in_progress");
    let res = s.post(&format!("{path}/status"), &org_admin, json!({"status": "resolved"})).await;
    assert_eq!(code(res).await, (409, "invalid_state_transition".into()), "a customer still cannot resolve");
    assert_eq!(set_status(&s, &org_admin, &theirs, "closed").await["status"], "closed");
    assert_eq!(set_status(&s, &colleague, &mine, "closed").await["status"], "closed");
    s.stop().await;
}
