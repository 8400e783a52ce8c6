//! Issue 19: the admin reports through the gateway, as JSON and as CSV, after a subscription is
//! paid: subscriptions reports its MRR, billing the payment; the dashboards' gauges agree. The
//! helpers below are shared with the other report flows (`reports_market`, `reports_licensing`).

use crate::support::{intent_of, Platform, User};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use uuid::Uuid;

/// A report (or any GET) as the gateway answers it: status, content type and the raw body.
pub struct Raw {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `GET path` through the gateway as `user`, with `Accept: accept`.
pub async fn raw(p: &Platform, user: &User, path: &str, accept: &str) -> Raw {
    let res = testkit::http()
        .get(p.url(path))
        .bearer_auth(&user.token)
        .header("accept", accept)
        .send()
        .await
        .expect("the gateway answers");
    let status = res.status().as_u16();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Raw { status, content_type, body: res.text().await.unwrap_or_default() }
}

/// The JSON form of a report, asserting 200.
pub async fn json_report(p: &Platform, user: &User, path: &str) -> Value {
    let res = p.get(Some(user), path).await;
    assert_eq!(res.status, 200, "GET {path}: {}", res.body);
    res.body
}

/// The CSV form of a report (`Accept: text/csv`), asserting 200 and the media type: the header
/// and each line as header-keyed fields. The reports' values hold no quotes or commas here.
pub async fn csv_report(p: &Platform, user: &User, path: &str) -> Vec<BTreeMap<String, String>> {
    let res = raw(p, user, path, "text/csv").await;
    assert_eq!(res.status, 200, "GET {path} as CSV: {}", res.body);
    assert!(res.content_type.starts_with("text/csv"), "{path}: {}", res.content_type);
    assert!(!res.body.contains('"'), "no quoted fields expected: {}", res.body);
    assert!(res.body.ends_with("\r\n"), "CRLF line ends: {:?}", res.body);
    let mut lines = res.body.split_terminator("\r\n");
    let header: Vec<String> = lines.next().expect("a header line").split(',').map(str::to_string).collect();
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{path}: a row of as many fields as the header: {l}");
            header.iter().cloned().zip(fields.into_iter().map(str::to_string)).collect()
        })
        .collect()
}

/// The CSV form of `path` holds exactly the JSON rows `rows`, field by field (`null` is an empty
/// cell), in the same order, with every JSON field as a column.
pub async fn assert_csv_matches(p: &Platform, user: &User, path: &str, rows: &[Value]) {
    let csv = csv_report(p, user, path).await;
    assert_eq!(csv.len(), rows.len(), "{path}: as many CSV rows as JSON rows");
    for (line, row) in csv.iter().zip(rows) {
        let fields = row.as_object().expect("a flat row");
        assert_eq!(line.len(), fields.len(), "{path}: the CSV columns are the JSON fields: {line:?} vs {row}");
        for (field, value) in fields {
            let want = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(line.get(field), Some(&want), "{path}: CSV {field} of {row}");
        }
    }
}

/// A non-admin gets exactly 403 (a problem), and no caller gets 401.
pub async fn assert_forbidden(p: &Platform, user: &User, path: &str) {
    let res = raw(p, user, path, "application/json").await;
    assert_eq!(res.status, 403, "GET {path} as a non-admin: {}", res.body);
    assert!(res.content_type.starts_with("application/problem+json"), "{path}: {}", res.content_type);
    let body: Value = serde_json::from_str(&res.body).expect("a problem");
    assert_eq!(body["code"], "forbidden", "{body}");
}

/// A bad range is a problem+json naming the field, and a validation failure (422, as
/// docs/api.md "Reports" defines it), never a report.
pub async fn assert_bad_range(p: &Platform, user: &User, path: &str, field: &str) {
    let res = raw(p, user, path, "text/csv").await;
    assert_eq!(res.status, 422, "GET {path}: {}", res.body);
    assert!(res.content_type.starts_with("application/problem+json"), "{path}: {}", res.content_type);
    let body: Value = serde_json::from_str(&res.body).expect("a problem");
    assert_eq!(body["code"], "validation_failed", "{body}");
    assert_eq!(body["errors"][0]["field"], field, "{body}");
}

/// Every bad range a report with `?from&to&interval` refuses: backwards, empty, malformed,
/// unknown interval, more than 366 buckets.
pub async fn assert_bad_ranges(p: &Platform, user: &User, base: &str) {
    let with = |q: &str| format!("{base}?{q}");
    assert_bad_range(p, user, &with("from=2026-02-01&to=2026-01-01&interval=day"), "to").await;
    assert_bad_range(p, user, &with("from=2026-02-01&to=2026-02-01"), "to").await;
    assert_bad_range(p, user, &with("from=yesterday&to=2026-02-01"), "query.from").await;
    assert_bad_range(p, user, &with("from=2026-01-01&to=2026-02-01&interval=year"), "query.interval").await;
    assert_bad_range(p, user, &with("from=2024-01-01&to=2025-01-02&interval=day"), "interval").await;
}

/// A decimal string field of a row.
pub fn dec(row: &Value, field: &str) -> Decimal {
    Decimal::from_str(row[field].as_str().unwrap_or_else(|| panic!("{field} in {row}"))).expect("a decimal")
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal")
}

/// The UTC day holding `t`.
pub fn day(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// `from=<day>&to=<day + days>&interval=day`.
pub fn days(from: NaiveDate, n: i64) -> String {
    format!("from={from}&to={}&interval=day", from + Duration::days(n))
}

/// Wait until `service`'s `/metrics` shows `want` for the gauge (business gauges are recomputed
/// on a refresh, not on every write).
pub async fn wait_gauge(p: &Platform, service: &str, name: &str, labels: &[(&str, &str)], want: f64) {
    p.eventually(&format!("{service} {name}{labels:?} = {want}"), || async {
        let text = p.metrics(service).await;
        let got = platform::metrics::sample(&text, name, labels).unwrap_or(f64::NAN);
        ((got - want).abs() < 1e-9).then_some(())
    })
    .await;
}

/// A Decimal as the float a gauge holds.
pub fn float(v: Decimal) -> f64 {
    v.to_string().parse().expect("a float")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_the_subscriptions_and_payments_reports_through_the_gateway() {
    let p = Platform::start().await;
    let learner = User::learner();
    let res = p.post_key(&learner, "/api/subscriptions", json!({"tier": "pro"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let _ = p.fake.confirm_payment_intent(&intent_of(&res.body["client_secret"]), "pm_card_visa");
    p.eventually("the subscription active", || async {
        let me = p.get(Some(&learner), "/api/subscriptions/me").await;
        (me.body["subscription"]["status"] == "active").then_some(())
    })
    .await;

    // The subscriptions clock's day (frozen at the platform's start), not the wall clock's: a
    // flow that crosses midnight still reads the day its facts are in.
    let today = platform::clock::Clock::now(&p.subscriptions_clock).date_naive();
    let range = format!("from={}&to={}&interval=day", today, today + Duration::days(2));
    let admin = User::admin();
    let subs = p.get(Some(&admin), &format!("/api/admin/reports/subscriptions?{range}")).await;
    assert_eq!(subs.status, 200, "{}", subs.body);
    let first = &subs.body["data"][0];
    assert_eq!((first["currency"].as_str(), first["new_mrr"].as_str()), (Some("USD"), Some("9.99")), "{}", subs.body);
    assert_eq!(first["subscribers"]["pro"]["active"], 1);
    let pays = p.get(Some(&admin), &format!("/api/admin/reports/payments?{range}")).await;
    assert_eq!(pays.status, 200, "{}", pays.body);
    // Billing dates by the wall clock: the payment is in one of the two days.
    let paid: Vec<&Value> =
        pays.body["data"].as_array().expect("data").iter().filter(|r| r["succeeded"] != 0).collect();
    assert_eq!(paid.len(), 1, "{}", pays.body);
    assert_eq!(paid[0]["succeeded"], 1, "{}", pays.body);
    assert_eq!(paid[0]["revenue_by_purpose"]["subscription"]["gross"], "9.99");

    for path in ["subscriptions", "payments"] {
        let res = testkit::http()
            .get(p.url(&format!("/api/admin/reports/{path}?{range}")))
            .bearer_auth(&admin.token)
            .header("accept", "text/csv")
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/csv"));
        let csv = res.text().await.expect("text");
        assert_eq!(csv.split_terminator("\r\n").count(), 3, "a header and two days: {csv}");
        assert!(csv.starts_with("period_start,period_end,currency,"), "{csv}");
        let denied = p.get(Some(&learner), &format!("/api/admin/reports/{path}?{range}")).await;
        assert_eq!(denied.status, 403, "admins only: {}", denied.body);
    }

    // The dashboards' gauges (issue 19, point 7) show the report's numbers at the end: MRR per
    // currency and the subscribers by tier and status.
    let end = subs.body["data"].as_array().expect("data").last().expect("a row").clone();
    assert_eq!(end["mrr"], "9.99", "{end}");
    wait_gauge(&p, "subscriptions", "monetization_subscriptions_mrr", &[("currency", "USD")], float(dec(&end, "mrr")))
        .await;
    let pro_active = end["subscribers"]["pro"]["active"].as_f64().expect("a count");
    let labels = [("tier", "pro"), ("status", "active")];
    wait_gauge(&p, "subscriptions", "monetization_subscriptions_subscriptions", &labels, pro_active).await;
    p.stop().await;
}
