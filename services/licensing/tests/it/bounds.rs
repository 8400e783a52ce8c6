//! Issue 14, item 9 (licensing): every number and time decoded from a client (business hours,
//! cursors, license times) is range-checked: a 422 naming the field, nothing changed, no panic.

use crate::support::{id_of, org_of, Caller, Stack};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

/// The status, `code` and the fields named by a problem answer.
async fn problem(res: reqwest::Response) -> (u16, String, Vec<String>) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let fields = body["errors"]
        .as_array()
        .map(|errs| errs.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_string(), fields)
}

fn cursor(v: Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hours_out_of_range_are_422_naming_the_field() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let org = org_of(&license);
    let admin = Caller::org_admin(org);
    let put = |start: &str, end: &str| {
        s.req(Method::PUT, &format!("/api/enterprise/organizations/{org}/business-hours"), Some(&admin))
            .json(&json!({"time_zone": "Europe/Berlin", "start": start, "end": end, "days": ["mon", "fri"]}))
            .send()
    };
    for (start, end, field) in [
        ("99999999:00", "17:00", "start"),
        ("09:00", "99999999:00", "end"),
        ("4294967296:00", "17:00", "start"),
        ("09:00", "24:01", "end"),
        ("09:99999999999", "17:00", "start"),
        ("-1:00", "17:00", "start"),
    ] {
        let (status, code, fields) = problem(put(start, end).await.expect("an answer, not a dropped connection")).await;
        assert_eq!((status, code.as_str()), (422, "validation_failed"), "{start}-{end}");
        assert_eq!(fields, vec![field.to_string()], "{start}-{end}");
    }
    // Nothing changed.
    let got: Value = s.get(&format!("/api/enterprise/organizations/{org}"), &admin).await.json().await.unwrap();
    assert_eq!(got["business_hours"]["start"], "09:00");
    assert_eq!(got["business_hours"]["time_zone"], "UTC");
    // The edges still work.
    assert_eq!(put("00:00", "24:00").await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_cursors_and_times_are_422_not_500() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let admin = s.admin.clone();
    let far = "-5000-01-01T00:00:00Z";
    let id = uuid::Uuid::now_v7();
    for path in ["/api/enterprise/licenses", "/api/enterprise/support/tickets"] {
        let c = cursor(json!({"at": far, "id": id}));
        let (status, _, fields) = problem(s.get(&format!("{path}?cursor={c}"), &admin).await).await;
        assert_eq!((status, fields), (422, vec!["cursor".to_string()]), "{path}");
    }
    let seats = format!("/api/enterprise/licenses/{}/seats", id_of(&license));
    for c in [cursor(json!({"n": -5})), cursor(json!({"n": 9_999_999_999_i64}))] {
        let (status, _, fields) = problem(s.get(&format!("{seats}?cursor={c}"), &admin).await).await;
        assert_eq!((status, fields), (422, vec!["cursor".to_string()]), "{c}");
    }
    // A control character is refused before the handler, as in every query parameter (platform).
    let (status, _, fields) = problem(s.get(&format!("{seats}?cursor=%00"), &admin).await).await;
    assert_eq!((status, fields), (422, vec!["query.cursor".to_string()]));
    // A limit no integer holds: 422 (the query decoder cannot say which field; any in-range limit is clamped).
    let (status, code, _) =
        problem(s.get("/api/enterprise/licenses?limit=99999999999999999999999", &admin).await).await;
    assert_eq!((status, code.as_str()), (422, "validation_failed"));
    // License times a database cannot hold.
    let mut body = s.license_body("far.example.com", 2, chrono::Duration::days(30));
    body["starts_at"] = json!(far);
    let (status, _, fields) = problem(s.create_license_as(&admin, body).await).await;
    assert_eq!((status, fields), (422, vec!["starts_at".to_string()]));
    let res = s
        .post(
            &format!("/api/enterprise/licenses/{}/extend", id_of(&license)),
            &admin,
            json!({"expires_at": "+200000-01-01T00:00:00Z"}),
        )
        .await;
    let (status, _, fields) = problem(res).await;
    assert_eq!((status, fields), (422, vec!["expires_at".to_string()]));
    s.stop().await;
}
