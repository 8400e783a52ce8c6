//! Issue 15 point 4 on one service: no input reaches the database as a 500; every refusal names
//! its field as a path; a wrong method is a 405 with `Allow`. The rules live once in platform.

use crate::support::{metadata, Market};
use platform::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status, "{:?}", res.headers());
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

fn field(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or_else(|| panic!("no field in {problem}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_query_body_and_path_are_422_naming_the_field() {
    let m = Market::start().await;
    // Public search: NUL used to reach PostgreSQL and answer 500.
    for (query, named) in [("q=%00", "query.q"), ("q=a%0Ab", "query.q"), ("category=x%1B", "query.category")] {
        let p = problem(m.get(None, &format!("/api/courses/list?{query}")).await, 422).await;
        assert_eq!(field(&p), named, "{query}: {p}");
    }
    let p = problem(m.get(None, "/api/courses/list?min_price=a%60b").await, 422).await;
    assert_eq!(field(&p), "query.min_price", "{p}");
    assert!(!p["errors"][0]["message"].as_str().unwrap().contains("`b`"), "a clean message: {p}");

    let instructor = Uuid::now_v7();
    let before = m.course_rows().await;
    let mut meta = metadata("Rust\u{0}for payments", "9.99");
    let res = m.upload(instructor, &meta, crate::support::ZIP, "application/zip").await;
    assert_eq!(field(&problem(res, 422).await), "metadata.title");
    meta["title"] = json!("Rust for payments");
    meta["description"] = json!("Two lines:\n\tindented, then\r\nCRLF");
    let res = m.upload(instructor, &meta, crate::support::ZIP, "application/zip").await;
    assert_eq!(res.status(), 201, "tab, LF and CR are content in long text");
    let course: Value = res.json().await.unwrap();
    assert_eq!(course["description"], meta["description"]);
    assert_eq!(m.course_rows().await, before + 1, "the refused upload stored nothing");

    let path = format!("/api/courses/{}", course["id"].as_str().unwrap());
    let patch = |body: Value| m.send(reqwest::Method::PATCH, instructor, &[Role::Instructor], &path, body, None);
    assert_eq!(field(&problem(patch(json!({"title": "a\u{0}b"})).await, 422).await), "title");
    assert_eq!(field(&problem(patch(json!({"title": "two\nlines"})).await, 422).await), "title");
    assert_eq!(field(&problem(patch(json!({"description": "bell\u{7}"})).await, 422).await), "description");
    assert_eq!(
        field(&problem(patch(json!({"price": {"amount": 9.99, "currency": "USD"}})).await, 422).await),
        "price.amount"
    );
    let c = m.get_json(Some((instructor, &[Role::Instructor])), &path).await;
    assert_eq!(c["title"], "Rust for payments", "nothing changed");

    // A path parameter: a malformed id is still a 404 (no such resource), a control character 422.
    let p = problem(m.get(None, "/api/courses/abc%00/reviews").await, 422).await;
    assert_eq!(field(&p), "path.id", "{p}");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_type_names_the_field_and_unknown_query_parameters_are_refused() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    let id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    assert_eq!(m.buy(buyer, id, "free").await.status(), 201);
    let path = format!("/api/courses/{id}/reviews");
    for (body, named) in [
        (json!({"rating": 2.0}), "rating"),
        (json!({"rating": "5"}), "rating"),
        (json!({"rating": 5, "body": 7}), "body"),
        (json!({"body": "x"}), "rating"),
        (json!({"rating": 5, "user_id": "x"}), "user_id"),
    ] {
        let p = problem(m.post(buyer, &[Role::Learner], &path, body.clone()).await, 422).await;
        assert_eq!(field(&p), named, "{body}: {p}");
    }
    // Unknown query parameters: on a route with a query struct and on one that reads none.
    let p = problem(m.get(None, &format!("{path}?limit=5&colour=red")).await, 422).await;
    assert_eq!(field(&p), "query.colour");
    let p = problem(m.get(None, &format!("/api/courses/{id}?expand=all")).await, 422).await;
    assert_eq!(field(&p), "query.expand");
    let p = problem(m.get(Some((instructor, &[Role::Instructor])), "/api/instructors/me/courses?x=1").await, 422).await;
    assert_eq!(field(&p), "query.x");
    assert_eq!(m.get(None, &format!("{path}?limit=5")).await.status(), 200);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_no_route_takes_is_405_with_allow() {
    let m = Market::start().await;
    let user = Uuid::now_v7();
    let course = format!("/api/courses/{}", Uuid::now_v7());
    let cases = [
        // `/api/courses/{id}` matches these paths too; Allow names the route meant.
        (reqwest::Method::DELETE, "/api/courses/list", "GET"),
        (reqwest::Method::DELETE, "/api/courses/purchase", "POST"),
        (reqwest::Method::PUT, &course, "GET, PATCH"),
        (reqwest::Method::PUT, "/api/instructors/me/payouts", "GET, POST"),
        (reqwest::Method::POST, "/health/live", "GET"),
    ];
    for (method, path, allow) in cases {
        let res = m.send(method.clone(), user, &[Role::Learner], path, json!({}), None).await;
        assert_eq!(res.headers().get("allow").map(|v| v.to_str().unwrap()), Some(allow), "{method} {path}");
        let p = problem(res, 405).await;
        assert_eq!(p["code"], "method_not_allowed");
    }
    let res = m.send(reqwest::Method::GET, user, &[Role::Learner], "/api/nothing/here", json!({}), None).await;
    assert_eq!(problem(res, 404).await["code"], "not_found", "an unknown path is still a 404");
    m.stop().await;
}
