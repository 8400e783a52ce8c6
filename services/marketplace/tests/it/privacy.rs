//! marketplace's part of the data-subject export: a learner's purchases and reviews, an
//! instructor's courses (and earnings, payouts); none of another user's; who may ask and the
//! audit entry of an admin's read.

use crate::support::Market;
use platform::auth::Role;
use serde_json::json;
use testkit::privacy::{assert_access, assert_mentions_none, own, rows};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_users_purchases_reviews_and_courses_only() {
    let m = Market::start().await;
    let (teacher, ada, bob) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let course = m.course(teacher, json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    let course = course["id"].as_str().unwrap().to_string();
    let path = format!("/api/courses/{course}/reviews");
    let mut purchases = Vec::new();
    for (user, text) in [(ada, "ada-marker: clear and short"), (bob, "bob-marker: too long")] {
        let bought = m.buy(user, &course, "free").await;
        assert_eq!(bought.status(), 201);
        let bought: serde_json::Value = bought.json().await.unwrap();
        purchases.push(bought["id"].as_str().unwrap().to_string());
        let review = m.post(user, &[Role::Learner], &path, json!({"rating": 5, "body": text})).await;
        assert_eq!(review.status(), 201, "{:?}", review.text().await);
    }

    let export = own(&m.svc.url(), "marketplace", ada).await;
    let bought = rows(&export, "purchases");
    assert_eq!(bought.len(), 1, "{export}");
    assert_eq!((bought[0]["id"].as_str(), bought[0]["course_id"].as_str()), (Some(&*purchases[0]), Some(&*course)));
    assert!(bought[0].get("client_secret").is_none(), "{export}");
    let reviews = rows(&export, "reviews");
    assert_eq!(reviews.len(), 1, "{export}");
    assert_eq!(reviews[0]["body"], "ada-marker: clear and short");
    assert!(rows(&export, "courses").is_empty(), "a learner teaches nothing: {export}");
    assert_mentions_none(&export, &[bob.to_string(), purchases[1].clone(), "bob-marker".into()]);

    let taught = own(&m.svc.url(), "marketplace", teacher).await;
    let courses = rows(&taught, "courses");
    assert_eq!(courses.len(), 1, "{taught}");
    assert_eq!(courses[0]["id"].as_str(), Some(&*course));
    assert!(courses[0].get("search").is_none(), "the search index is not the instructor's data: {taught}");
    assert!(rows(&taught, "purchases").is_empty() && rows(&taught, "payouts").is_empty(), "{taught}");
    rows(&taught, "earnings");
    assert_mentions_none(&taught, &[ada.to_string(), bob.to_string(), "ada-marker".into(), "bob-marker".into()]);
    assert_access(&m.svc.url(), "marketplace", &m.svc.pool, ada).await;
    m.stop().await;
}
