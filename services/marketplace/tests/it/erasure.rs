//! Erasure, marketplace's part: the review's text goes, its rating stays (the course's average
//! is computed from it), the purchase stays; a redelivered request changes nothing.

use crate::support::Market;
use platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_blanks_the_review_text_keeps_rating_and_purchase_and_confirms_once() {
    let m = Market::start().await;
    let course = m.course(Uuid::now_v7(), json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    let course = course["id"].as_str().unwrap().to_string();
    let (buyer, other) = (Uuid::now_v7(), Uuid::now_v7());
    let marker = format!("Erasable-{}", Uuid::new_v4().simple());
    let path = format!("/api/courses/{course}/reviews");
    for (who, rating, body) in [(buyer, 5, format!("{marker} loved it")), (other, 2, "meh, not for me".into())] {
        assert_eq!(m.buy(who, &course, "free").await.status(), 201);
        assert_eq!(m.post(who, &[Role::Learner], &path, json!({"rating": rating, "body": body})).await.status(), 201);
    }
    let before = m.get_json(None, &format!("/api/courses/{course}")).await;
    assert!(!testkit::erasure::leftovers(&m.env.schema("marketplace"), &[&marker]).await.is_empty());

    testkit::erasure::erase_and_redeliver(&m.env, "marketplace", buyer).await;

    let hits = testkit::erasure::leftovers(&m.env.schema("marketplace"), &[&marker]).await;
    assert!(hits.is_empty(), "left behind: {hits:?}");
    let after = m.get_json(None, &format!("/api/courses/{course}")).await;
    assert_eq!(after["rating"], before["rating"], "the ratings stay");
    let reviews = m.get_json(None, &path).await;
    let bodies: Vec<&str> = reviews["data"].as_array().unwrap().iter().map(|r| r["body"].as_str().unwrap()).collect();
    assert!(bodies.contains(&"meh, not for me") && bodies.contains(&""), "{bodies:?}");
    assert!(m.owned(buyer).await.contains(&course), "the purchase stays");
    m.stop().await;
}
