//! Issue 14, item 12 (licensing): a license's seats, a user's seats and a ticket's comments are
//! served a page at a time (`?limit=` default 20, max 100, opaque `?cursor=`, `{data, next_cursor}`).

use crate::support::{id_of, key_of, org_of, Caller, Stack};
use futures_util::future::join_all;
use serde_json::{json, Value};

/// Every item of a list, following `next_cursor`; also the number of pages.
async fn all_pages(s: &Stack, caller: &Caller, path: &str, limit: Option<u32>) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = Vec::new();
        if let Some(l) = limit {
            query.push(format!("limit={l}"));
        }
        if let Some(c) = &cursor {
            query.push(format!("cursor={c}"));
        }
        let res = s.get(&format!("{path}?{}", query.join("&")), caller).await;
        assert_eq!(res.status(), 200, "{path}");
        let page: Value = res.json().await.unwrap();
        pages += 1;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit.unwrap_or(20).min(100) as usize);
        items.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (items, pages),
        }
        assert!(pages < 50, "{path} never ends");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licenses_seats_page_by_seat_number() {
    let s = Stack::start().await;
    let license = s.license(45).await;
    let (id, key, org) = (id_of(&license), key_of(&license), org_of(&license));
    let members: Vec<Caller> = (0..45).map(|_| Caller::member(org)).collect();
    for res in join_all(members.iter().map(|m| s.activate(m, &key))).await {
        assert_eq!(res.status(), 201);
    }
    let path = format!("/api/enterprise/licenses/{id}/seats");
    let org_admin = Caller::org_admin(org);
    // Default page size 20: three pages.
    let (seats, pages) = all_pages(&s, &org_admin, &path, None).await;
    assert_eq!(pages, 3);
    let numbers: Vec<i64> = seats.iter().map(|v| v["seat_number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, (1..=45).collect::<Vec<i64>>());
    // Any page size; over 100 is 100.
    let (seats, pages) = all_pages(&s, &org_admin, &path, Some(7)).await;
    assert_eq!((seats.len(), pages), (45, 7));
    let first: Value = s.get(&format!("{path}?limit=1000"), &org_admin).await.json().await.unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 45);
    assert!(first["next_cursor"].is_null());
    // A released seat leaves the list; a tampered cursor is a 422 naming it.
    let gone = &members[0];
    let res = s.req(reqwest::Method::DELETE, &format!("{path}/{}", gone.user), Some(gone)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (seats, _) = all_pages(&s, &org_admin, &path, Some(20)).await;
    assert_eq!(seats.len(), 44);
    assert!(seats.iter().all(|v| v["user_id"] != gone.user.to_string()));
    let res = s.get(&format!("{path}?cursor=not-a-cursor"), &org_admin).await;
    assert_eq!(res.status(), 422);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_seats_page_too() {
    let s = Stack::start().await;
    let user = Caller::learner();
    for _ in 0..3 {
        let license = s.license(2).await;
        assert_eq!(s.activate(&user, &key_of(&license)).await.status(), 201);
    }
    let (seats, pages) = all_pages(&s, &user, "/api/enterprise/seats/me", Some(2)).await;
    assert_eq!((seats.len(), pages), (3, 2));
    let licenses: std::collections::HashSet<&str> = seats.iter().map(|v| v["license_id"].as_str().unwrap()).collect();
    assert_eq!(licenses.len(), 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_comments_page_oldest_first() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let member = Caller::member(org_of(&license));
    assert_eq!(s.activate(&member, &key_of(&license)).await.status(), 201);
    let res = s
        .post(
            "/api/enterprise/support/tickets",
            &member,
            json!({"subject": "Many replies", "description": "A long thread", "priority": "P3"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ticket = id_of(&res.json().await.unwrap());
    let comments = format!("/api/enterprise/support/tickets/{ticket}/comments");
    for i in 0..25 {
        let author = if i % 2 == 0 { &member } else { &s.admin };
        let res = s.post(&comments, author, json!({"body": format!("comment {i}")})).await;
        assert_eq!(res.status(), 201);
    }
    // One ticket: the first page of comments and where the rest starts.
    let one: Value = s.get(&format!("/api/enterprise/support/tickets/{ticket}"), &member).await.json().await.unwrap();
    assert_eq!(one["comments"].as_array().unwrap().len(), 20);
    let rest = one["comments_next_cursor"].as_str().expect("more comments than a page");
    let next: Value = s.get(&format!("{comments}?cursor={rest}"), &member).await.json().await.unwrap();
    assert_eq!(next["data"].as_array().unwrap().len(), 5);
    assert!(next["next_cursor"].is_null());
    // Paged in any size, the same comments in the same order as one big page.
    let whole: Value = s.get(&format!("{comments}?limit=100"), &member).await.json().await.unwrap();
    let whole: Vec<Value> = whole["data"].as_array().unwrap().clone();
    assert_eq!(whole.len(), 25);
    let (paged, pages) = all_pages(&s, &member, &comments, Some(10)).await;
    assert_eq!(pages, 3);
    assert_eq!(paged, whole);
    let bodies: std::collections::HashSet<&str> = whole.iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies.len(), 25);
    // Another organisation's member sees nothing.
    let stranger = Caller::member(uuid::Uuid::now_v7());
    assert_eq!(s.get(&comments, &stranger).await.status(), 404);
    s.stop().await;
}
