use crate::support::Market;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

async fn free_course(m: &Market, instructor: Uuid) -> String {
    let course = m.course(instructor, json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    course["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_reviews_keep_the_average_exact() {
    let m = Market::start().await;
    let mut events = Capture::bind(&m.env, &["marketplace.review.posted.v1"]).await;
    let course = free_course(&m, Uuid::now_v7()).await;
    let buyers: Vec<Uuid> = (0..50).map(|_| Uuid::now_v7()).collect();
    for b in &buyers {
        assert_eq!(m.buy(*b, &course, "free").await.status(), 201);
    }
    // 17 x 5, 13 x 4, 20 x 1 = 157 over 50 = 3.14
    let rating = |i: usize| {
        if i < 17 {
            5
        } else if i < 30 {
            4
        } else {
            1
        }
    };
    let path = format!("/api/courses/{course}/reviews");
    let posts = buyers
        .iter()
        .enumerate()
        .map(|(i, b)| m.post(*b, &[Role::Learner], &path, json!({"rating": rating(i), "body": format!("review {i}")})));
    let statuses: Vec<u16> = futures_util::future::join_all(posts).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let c = m.get_json(None, &format!("/api/courses/{course}")).await;
    assert_eq!(c["rating"], json!({"average": "3.14", "count": 50}));

    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map(|c| format!("?limit=20&cursor={c}")).unwrap_or_else(|| "?limit=20".into());
        let page = m.get_json(None, &format!("{path}{q}")).await;
        seen += page["data"].as_array().unwrap().len();
        assert!(page["data"][0].get("user_id").is_none(), "reviewers' ids are not shown");
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 50);
    let mut posted = 0;
    while posted < 50 {
        events.expect("marketplace.review.posted.v1", Duration::from_secs(10)).await;
        posted += 1;
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_review_once_edit_with_put_and_the_instructor_replies_once() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let course = free_course(&m, instructor).await;
    let path = format!("/api/courses/{course}/reviews");
    let stranger = Uuid::now_v7();
    let res = m.post(stranger, &[Role::Learner], &path, json!({"rating": 5})).await;
    assert_eq!(res.status(), 403, "a non-owner cannot review");
    let res = m.post(instructor, &[Role::Instructor], &path, json!({"rating": 5})).await;
    assert_eq!(res.status(), 403, "nor can the instructor");

    let alice = Uuid::now_v7();
    let bob = Uuid::now_v7();
    for who in [alice, bob] {
        m.buy(who, &course, "free").await;
    }
    for bad in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": 4, "body": "x".repeat(4001)}),
        json!({"rating": 4, "stars": 1}),
    ] {
        assert_eq!(m.post(alice, &[Role::Learner], &path, bad.clone()).await.status(), 422, "{bad}");
    }
    let first: Value =
        m.post(alice, &[Role::Learner], &path, json!({"rating": 5, "body": "Excellent"})).await.json().await.unwrap();
    let again = m.post(alice, &[Role::Learner], &path, json!({"rating": 1})).await;
    assert_eq!(again.status(), 409);
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["code"], "already_reviewed");
    assert!(problem["detail"].as_str().unwrap().contains(&format!("PUT /api/courses/{course}/reviews/mine")));
    m.post(bob, &[Role::Learner], &path, json!({"rating": 4})).await;

    let res = m
        .send(
            reqwest::Method::PUT,
            alice,
            &[Role::Learner],
            &format!("{path}/mine"),
            json!({"rating": 2, "body": "Changed my mind"}),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let c = m.get_json(None, &format!("/api/courses/{course}")).await;
    assert_eq!(c["rating"], json!({"average": "3.00", "count": 2}));

    let review = first["id"].as_str().unwrap();
    let reply = format!("{path}/{review}/reply");
    let res = m.post(Uuid::now_v7(), &[Role::Instructor], &reply, json!({"body": "Not mine"})).await;
    assert_eq!(res.status(), 403);
    let res = m.post(instructor, &[Role::Instructor], &reply, json!({"body": "Thanks for the feedback"})).await;
    assert_eq!(res.status(), 200);
    let res = m.post(instructor, &[Role::Instructor], &reply, json!({"body": "Again"})).await;
    assert_eq!(res.status(), 409);

    // Most helpful first: bob's review gets a vote, alice cannot vote for her own.
    let newest = m.get_json(None, &path).await;
    let bobs = newest["data"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(bobs, review);
    assert_eq!(m.post(alice, &[Role::Learner], &format!("{path}/{bobs}/helpful"), json!({})).await.status(), 200);
    assert_eq!(m.post(alice, &[Role::Learner], &format!("{path}/{review}/helpful"), json!({})).await.status(), 409);
    let helpful = m.get_json(None, &format!("{path}?sort=helpful")).await;
    assert_eq!(helpful["data"][0]["id"], bobs.as_str());
    assert_eq!(helpful["data"][0]["helpful_count"], 1);
    let replied = helpful["data"][1].clone();
    assert_eq!(replied["reply"]["body"], "Thanks for the feedback");
    m.stop().await;
}
