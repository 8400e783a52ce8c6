//! Issue 15 point 4 where a client goes: through the gateway, no input answers a 5xx. NUL in the
//! public search (it used to reach PostgreSQL: 500), NUL in a JSON text field, a wrong type, an
//! unknown query parameter, each a 422 naming the field; a method no route takes is a 405 with
//! `Allow`, relayed by the gateway from the service or answered by the gateway for its own routes.

use crate::support::{str_of, Platform, User};
use reqwest::Method;
use serde_json::{json, Value};

fn field(body: &Value) -> String {
    str_of(&body["errors"][0]["field"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_422_naming_the_field_and_a_wrong_method_a_405_with_allow() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();

    // The public search, without a token: NUL and a garbled number.
    for (query, named) in [("q=%00", "query.q"), ("min_price=a%60b", "query.min_price"), ("colour=red", "query.colour")]
    {
        let res = p.get(None, &format!("/api/courses/list?{query}")).await;
        assert_eq!((res.status, field(&res.body)), (422, named.to_string()), "{query}: {}", res.body);
    }

    let course = p.publish_course(&instructor, "Input rules", "0.00").await;
    let id = str_of(&course["id"]);
    let path = format!("/api/courses/{id}");
    let res = p.call(Method::PATCH, &path, Some(&instructor), Some(json!({"title": "Bad\u{0}title"})), None).await;
    assert_eq!((res.status, field(&res.body)), (422, "title".to_string()), "{}", res.body);
    let res = p
        .call(Method::PATCH, &path, Some(&instructor), Some(json!({"description": "Line one\n\tLine two"})), None)
        .await;
    assert_eq!(res.status, 200, "tab and newline are content in a description: {}", res.body);
    assert_eq!(p.get(None, &path).await.body["title"], "Input rules", "the refused title changed nothing");

    // A review's rating as a float: the field is `rating`, not the value.
    p.purchase(&learner, &id).await;
    let reviews = format!("{path}/reviews");
    let res = p.post(&learner, &reviews, json!({"rating": 2.0, "body": "ok"})).await;
    assert_eq!((res.status, field(&res.body)), (422, "rating".to_string()), "{}", res.body);
    let res = p.post(&learner, &reviews, json!({"rating": 4, "body": "nul\u{0}"})).await;
    assert_eq!((res.status, field(&res.body)), (422, "body".to_string()), "{}", res.body);
    // A subscription tier of the wrong type, on another service.
    let res = p.post_key(&learner, "/api/subscriptions", json!({"tier": 5}), "input-tier").await;
    assert_eq!((res.status, field(&res.body)), (422, "tier".to_string()), "{}", res.body);

    // Wrong methods: relayed from the services, and the gateway's own routes.
    let http = testkit::http();
    for (method, target, allow) in [
        (Method::DELETE, "/api/courses/list".to_string(), "GET"),
        (Method::PUT, path.clone(), "GET, PATCH"),
        (Method::GET, "/api/tokens/redeem".to_string(), "POST"),
        (Method::POST, "/api/openapi.json".to_string(), "GET"),
        (Method::POST, "/health/live".to_string(), "GET"),
    ] {
        let res = http.request(method.clone(), p.url(&target)).bearer_auth(&learner.token).send().await.unwrap();
        assert_eq!(res.status(), 405, "{method} {target}");
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {target}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed");
    }
    p.stop().await;
}
