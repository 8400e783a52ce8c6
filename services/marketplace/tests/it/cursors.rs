//! Crafted catalogue cursors: every number in them is range-checked, so none crashes the handler
//! or wraps; each is a 422 `invalid_cursor` and the cursors the API issues still page.

use crate::support::Market;
use platform::pagination::{encode_cursor, MAX_OFFSET};
use serde_json::{json, Value};
use uuid::Uuid;

async fn assert_invalid_cursor(m: &Market, query: &str, cursor: &str) {
    let path = format!("/api/courses/list?{query}&cursor={cursor}");
    let res = m.get(None, &path).await;
    assert_eq!(res.status(), 422, "{path}");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_cursor", "{path}: {problem}");
    assert_eq!(problem["errors"][0]["field"], "cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_catalogue_cursor_is_422_invalid_cursor_never_a_crash() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    for title in ["Rust for payments", "Rust for games"] {
        m.course(instructor, json!({ "title": title }), true).await;
    }
    // The example (a 502 through the gateway: `offset + limit` overflowed), and its kin.
    for offset in [json!(i64::MAX), json!(i64::MIN), json!(-1), json!(MAX_OFFSET + 1), json!(18446744073709551615u64)] {
        let cursor = encode_cursor(&json!({ "sort": "relevance", "offset": offset }));
        assert_invalid_cursor(&m, "q=rust", &cursor).await;
    }
    let id = Uuid::nil();
    for (sort, key) in [
        ("popularity", "99999999999999999999"),
        ("popularity", "-99999999999999999999"),
        ("rating", "1e400"),
        ("price_asc", "79228162514264337593543950336"),
        ("newest", "99999-12-31T00:00:00Z"),
    ] {
        let cursor = encode_cursor(&json!({ "sort": sort, "key": key, "id": id }));
        assert_invalid_cursor(&m, &format!("sort={sort}"), &cursor).await;
    }
    assert_invalid_cursor(&m, "q=rust", "not-a-cursor!").await;
    assert_invalid_cursor(&m, "q=rust", &encode_cursor(&json!({ "sort": "newest", "offset": 1 }))).await;

    // The deepest offset accepted reads an empty page with no next cursor.
    let deepest = encode_cursor(&json!({ "sort": "relevance", "offset": MAX_OFFSET }));
    let page = m.get_json(None, &format!("/api/courses/list?q=rust&limit=100&cursor={deepest}")).await;
    assert_eq!(page["data"], json!([]));
    assert!(page["next_cursor"].is_null());
    // Cursors the API issues still page, one course at a time.
    let first = m.get_json(None, "/api/courses/list?q=rust&limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = m.get_json(None, &format!("/api/courses/list?q=rust&limit=1&cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    assert!(second["next_cursor"].is_null());
    m.stop().await;
}
