//! marketplace's audited actions: price changes, publish and unpublish; an edit that leaves the
//! price alone and a refused change write nothing.

use crate::support::Market;
use platform::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

async fn audit(m: &Market, query: &str) -> Vec<Value> {
    let res = m.get(Some((Uuid::now_v7(), &[Role::Admin])), &format!("/api/admin/audit/marketplace{query}")).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_and_publish_changes_are_audited() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({}), true).await;
    let id = course["id"].as_str().unwrap();
    let path = format!("/api/courses/{id}");
    let patch = |body: Value, who: Uuid| m.send(Method::PATCH, who, &[Role::Instructor], &path, body, None);
    assert_eq!(patch(json!({"title": "Rust for payments, 2nd ed."}), instructor).await.status(), 200);
    assert_eq!(patch(json!({"price": {"amount": "19.99", "currency": "USD"}}), instructor).await.status(), 200);
    // Another instructor may not change it: refused, nothing logged.
    assert_eq!(patch(json!({"price": {"amount": "0.99", "currency": "USD"}}), Uuid::now_v7()).await.status(), 403);
    let res = m.post(instructor, &[Role::Instructor], &format!("/api/courses/{id}/unpublish"), json!({})).await;
    assert_eq!(res.status(), 200);

    let entries = audit(&m, &format!("?target=course:{id}")).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["course.unpublish", "course.price.change", "course.publish"]);
    let price = &entries[1];
    assert_eq!(price["actor_sub"], instructor.to_string());
    assert_eq!(
        price["changes"]["after"]["price"].as_str().map(|p| p.parse::<rust_decimal::Decimal>().unwrap()),
        Some("19.99".parse().unwrap())
    );
    assert_eq!(
        price["changes"]["before"]["price"].as_str().map(|p| p.parse::<rust_decimal::Decimal>().unwrap()),
        Some("9.99".parse().unwrap())
    );
    let mut conn = m.svc.pool.get().await.unwrap();
    assert_eq!(platform::audit::verify(&mut conn).await.unwrap().broken, None);
    drop(conn);
    m.stop().await;
}
