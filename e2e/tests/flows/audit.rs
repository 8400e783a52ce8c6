//! Issue 18, point 1, through the gateway: privileged actions in four services (a refund, a
//! license suspension, a course price change, a token award) land in each service's audit log,
//! and `GET /api/admin/audit` merges them by time, with the filters (actor, target, action,
//! time) and a cursor that walks the merged log without a gap or a repeat. Admins only.

use crate::support::{str_of, unique_word, Platform, User};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use uuid::Uuid;

fn entries(page: &Value) -> Vec<Value> {
    page["data"].as_array().unwrap_or_else(|| panic!("a page: {page}")).clone()
}

fn actions(entries: &[Value]) -> BTreeSet<String> {
    entries.iter().map(|e| format!("{}:{}", str_of(&e["service"]), str_of(&e["action"]))).collect()
}

async fn read(p: &Platform, who: &User, path: &str) -> Value {
    let res = p.get(Some(who), path).await;
    assert_eq!(res.status, 200, "{path}: {}", res.body);
    res.body
}

/// Every page of `path` (which has no `cursor`), `limit` at a time.
async fn walk(p: &Platform, who: &User, path: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = read(p, who, &url).await;
        let data = entries(&page);
        assert!(data.len() <= limit, "{page}");
        all.extend(data);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return all,
        }
    }
    panic!("{path}: more than 50 pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_actions_of_every_service_read_back_from_the_merged_log() {
    let p = Platform::start().await;
    let (admin, instructor, learner) = (User::admin(), User::instructor(), User::learner());
    let key = || Uuid::new_v4().to_string();

    // marketplace: a course and its price change (by its instructor).
    let course = p.publish_course(&instructor, &format!("{} audited", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let path = format!("/api/courses/{course_id}");
    let body = json!({"price": {"amount": "24.00", "currency": "USD"}});
    let res = p.call(Method::PATCH, &path, Some(&instructor), Some(body), None).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // billing: the learner buys it, an admin refunds part of it.
    let bought = p.buy(&learner, &course_id).await;
    let refunds = format!("/api/payments/{}/refunds", bought.payment_id);
    let refund = p.post_key(&admin, &refunds, json!({"amount": "4.00", "reason": "goodwill"}), &key()).await;
    assert_eq!(refund.status, 201, "{}", refund.body);

    // licensing: a license, then its suspension.
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Audit {suffix}"), "domain": format!("audit-{suffix}.example.com")},
        "seats": 2,
        "tier": "enterprise",
        "starts_at": now - Duration::hours(1),
        "expires_at": now + Duration::days(365),
    });
    let created = p.post_key(&admin, "/api/enterprise/licenses/create", license, &key()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let license_id = str_of(&created.body["id"]);
    let suspend = format!("/api/enterprise/licenses/{license_id}/suspend");
    let res = p.post(&admin, &suspend, json!({"reason": "unpaid invoice"})).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // rewards: an admin award.
    let award = json!({"user_id": learner.id, "amount": 25, "reason": "e2e: audit"});
    assert_eq!(p.post_key(&admin, "/api/tokens/award", award, &key()).await.status, 201);

    // Admins only, on the merged log and on each service's.
    for path in ["/api/admin/audit", "/api/admin/audit/licensing"] {
        for who in [&learner, &instructor] {
            let res = p.get(Some(who), path).await;
            assert_eq!(res.status, 403, "{path}: {}", res.body);
            assert_eq!(res.body["code"], "forbidden");
        }
        assert_eq!(p.get(None, path).await.status, 401, "{path}");
    }

    // Everything the admin did, across four services, newest first.
    let by_admin = walk(&p, &admin, &format!("/api/admin/audit?actor={}", admin.id), 100).await;
    let expected: BTreeSet<String> =
        ["billing:payment.refund", "licensing:license.create", "licensing:license.suspend", "rewards:tokens.award"]
            .map(String::from)
            .into();
    assert_eq!(actions(&by_admin), expected, "{by_admin:#?}");
    assert!(by_admin.iter().all(|e| e["actor_sub"] == admin.id.to_string() && e["actor_roles"] == json!(["admin"])));
    let times: Vec<String> = by_admin.iter().map(|e| str_of(&e["at"])).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    let parsed = |t: &String| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(times.windows(2).all(|w| parsed(&w[0]) >= parsed(&w[1])), "newest first: {times:?}");

    // The same walk one entry per page: the same entries, in the same order, none twice.
    let one_by_one = walk(&p, &admin, &format!("/api/admin/audit?actor={}", admin.id), 1).await;
    let ids = |v: &[Value]| v.iter().map(|e| str_of(&e["id"])).collect::<Vec<_>>();
    assert_eq!(ids(&one_by_one), ids(&by_admin));
    // And the whole log (the instructor's price change and publish too) two at a time.
    let everything = walk(&p, &admin, "/api/admin/audit", 2).await;
    let all_ids = ids(&everything);
    assert_eq!(all_ids.iter().collect::<BTreeSet<_>>().len(), all_ids.len(), "no entry twice");
    assert!(actions(&everything).contains("marketplace:course.price.change"), "{everything:#?}");
    assert!(actions(&everything).is_superset(&expected));

    // By action: the price change, with what changed and who did it.
    let price = entries(&read(&p, &admin, "/api/admin/audit?action=course.price.change").await);
    assert_eq!(price.len(), 1, "{price:#?}");
    assert_eq!(
        (&price[0]["service"], &price[0]["target"]),
        (&json!("marketplace"), &json!(format!("course:{course_id}")))
    );
    assert_eq!(price[0]["actor_sub"], instructor.id.to_string());
    let amount = |v: &Value| v.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    assert_eq!(amount(&price[0]["changes"]["before"]["price"]), "20.00".parse().unwrap());
    assert_eq!(amount(&price[0]["changes"]["after"]["price"]), "24.00".parse().unwrap());

    // By target: the refund, in the merged log and in billing's own.
    let target = format!("payment:{}", bought.payment_id);
    let merged = entries(&read(&p, &admin, &format!("/api/admin/audit?target={target}")).await);
    assert_eq!(actions(&merged), ["billing:payment.refund".to_string()].into());
    let own = entries(&read(&p, &admin, &format!("/api/admin/audit/billing?target={target}")).await);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], merged[0]["id"], "the merged entry is billing's entry");
    assert_eq!(own[0]["hash"], merged[0]["hash"]);

    // One service's log only, through the merged endpoint and directly.
    let licensing =
        entries(&read(&p, &admin, &format!("/api/admin/audit?service=licensing&target=license:{license_id}")).await);
    assert_eq!(
        licensing.iter().map(|e| str_of(&e["action"])).collect::<Vec<_>>(),
        ["license.suspend", "license.create"]
    );
    let direct = entries(&read(&p, &admin, &format!("/api/admin/audit/licensing?target=license:{license_id}")).await);
    assert_eq!(ids(&direct), ids(&licensing));
    assert_eq!(licensing[0]["changes"]["after"]["status"], "suspended");
    assert!(licensing[0]["request_id"].is_string(), "the request id the gateway gave: {}", licensing[0]);

    // By time: the half-open window [at, at + 1 µs) of one entry holds exactly it.
    let award_entry = by_admin.iter().find(|e| e["action"] == "tokens.award").unwrap();
    let at = parsed(&str_of(&award_entry["at"]));
    let window = format!(
        "/api/admin/audit?actor={}&from={}&to={}",
        admin.id,
        urlencode(&at.to_rfc3339()),
        urlencode(&(at + Duration::microseconds(1)).to_rfc3339())
    );
    // (Services on a test clock may share that instant: every entry in the window has it.)
    let in_window = entries(&read(&p, &admin, &window).await);
    assert!(ids(&in_window).contains(&str_of(&award_entry["id"])), "{in_window:#?}");
    assert!(in_window.iter().all(|e| parsed(&str_of(&e["at"])) == at), "{in_window:#?}");
    let until = format!("/api/admin/audit?actor={}&action=tokens.award&to={}", admin.id, urlencode(&at.to_rfc3339()));
    assert_eq!(entries(&read(&p, &admin, &until).await), Vec::<Value>::new(), "`to` is exclusive");
    let before = format!("/api/admin/audit?actor={}&to={}", admin.id, urlencode(&sorted.last().unwrap().clone()));
    assert_eq!(entries(&read(&p, &admin, &before).await), Vec::<Value>::new(), "nothing before the first");

    // Bad filters are refused, naming the field.
    let res = p.get(Some(&admin), "/api/admin/audit?service=nowhere").await;
    assert_eq!((res.status, &res.body["code"]), (422, &json!("validation_failed")), "{}", res.body);
    let res = p.get(Some(&admin), "/api/admin/audit?cursor=garbage").await;
    assert_eq!(res.status, 422, "{}", res.body);
    p.stop().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
