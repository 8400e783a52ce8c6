//! Issue 18, point 3: erasure everywhere, keeping the financial records. A learner who did
//! everything (subscription, a course bought and reviewed, tokens earned, awarded and redeemed, a
//! display name, a friend, a seat, a support ticket) is erased by an admin through the gateway;
//! once every service has confirmed, no text or JSON column of any table of any service's schema
//! holds the learner's personal strings, while every money total is what it was and the token
//! ledger still balances.

use crate::support::{str_of, Platform, User};
use chrono::Duration;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Every service that confirms an erasure (webhooks: the events it keeps to deliver name users).
const SERVICES: [&str; 6] = ["billing", "licensing", "marketplace", "rewards", "subscriptions", "webhooks"];

/// One connection (the shared server's connection limit is busy when many tests run), retried.
async fn connect() -> AsyncPgConnection {
    testkit::eventually("a database connection", std::time::Duration::from_secs(60), || async {
        AsyncPgConnection::establish(&testkit::database_url()).await.ok()
    })
    .await
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    total: String,
}

/// The sum of every money column (NUMERIC) of every table of every service's schema, and of the
/// token ledger's amounts and balances: what an erasure must leave exactly as it was.
async fn money_totals(p: &Platform) -> BTreeMap<String, String> {
    let mut conn = connect().await;
    let mut totals = BTreeMap::new();
    for service in SERVICES {
        let schema = p.env.schema(service);
        let columns: Vec<Row> = diesel::sql_query(
            "SELECT table_name::text AS name, column_name::text AS total FROM information_schema.columns
              WHERE table_schema = $1 AND data_type = 'numeric' ORDER BY 1, 2",
        )
        .bind::<Text, _>(&schema)
        .load(&mut conn)
        .await
        .expect("columns");
        let mut sums: Vec<(String, String)> = columns.iter().map(|c| (c.name.clone(), c.total.clone())).collect();
        if service == "rewards" {
            sums.extend(
                [("token_transactions", "amount"), ("token_balances", "balance")].map(|(t, c)| (t.into(), c.into())),
            );
        }
        for (table, column) in sums {
            let sql = format!(
                "SELECT '{table}.{column}' AS name, coalesce(sum(\"{column}\"), 0)::text AS total FROM \"{schema}\".\"{table}\""
            );
            let row: Row = diesel::sql_query(sql).get_result(&mut conn).await.expect("a sum");
            totals.insert(format!("{service}.{}", row.name), row.total);
        }
    }
    totals
}

async fn assert_ledger_balances(p: &Platform) {
    let mut conn = connect().await;
    diesel::sql_query(format!("SET search_path TO \"{}\"", p.env.schema("rewards")))
        .execute(&mut conn)
        .await
        .expect("search_path");
    let bad = rewards::store::accounts::inconsistencies(&mut conn).await.expect("the ledger check");
    assert!(bad.is_empty(), "balances disagree with the ledger: {bad:?}");
}

/// Every column, in every service's schema, holding one of `needles`.
async fn leftovers(p: &Platform, needles: &[&str]) -> Vec<String> {
    let mut conn = connect().await;
    let mut found = Vec::new();
    for service in SERVICES {
        let hits = platform::erasure::find_strings(&mut conn, &p.env.schema(service), needles).await.expect("the scan");
        found.extend(hits.iter().map(|h| h.to_string()));
    }
    found
}

#[derive(diesel::QueryableByName)]
struct Naming {
    #[diesel(sql_type = Text)]
    event_type: String,
}

/// Webhooks' part, through the gateway and in its tables: the events it keeps that still name the
/// learner are the erasure protocol's only (partners need the id to erase on their side); events
/// about them that came after the erasure (the seat's release, the grant's end) were stored
/// scrubbed; the answers to the deliveries of the scrubbed events are gone.
async fn assert_webhooks_kept_nothing_of(p: &Platform, admin: &User, learner: &User) {
    let exported = p.get(Some(admin), &format!("/api/admin/users/{}/export", learner.id)).await;
    assert_eq!(exported.status, 200, "{}", exported.body);
    let listed = exported.body["services"]["webhooks"]["events"].as_array().expect("webhooks' part").clone();
    let mut conn = connect().await;
    let naming: Vec<Naming> = diesel::sql_query(format!(
        "SELECT event_type FROM \"{}\".events WHERE strpos(payload, $1) > 0 ORDER BY received_at",
        p.env.schema("webhooks")
    ))
    .bind::<Text, _>(learner.id.to_string())
    .load(&mut conn)
    .await
    .expect("webhooks' events");
    assert!(!naming.is_empty(), "the erasure request itself is kept and delivered");
    for event in &naming {
        assert!(
            webhooks::domain::scrub::is_erasure_protocol(&event.event_type),
            "{} names the learner",
            event.event_type
        );
    }
    assert_eq!(listed.len(), naming.len(), "the export lists what names them: {listed:?}");
    drop(conn);
    // The seat's release (licensing publishes it in its own erasure, before or after webhooks'
    // erasure ran) is kept scrubbed either way.
    let sql = format!(
        "SELECT event_type FROM \"{}\".events WHERE event_type = 'licensing.seat.released.v1' \
           AND payload LIKE '%[erased]%'",
        p.env.schema("webhooks")
    );
    p.eventually("webhooks to keep the seat's release, scrubbed", || async {
        let mut conn = connect().await;
        let scrubbed: Vec<Naming> = diesel::sql_query(&sql).load(&mut conn).await.expect("webhooks' events");
        (scrubbed.len() == 1).then_some(())
    })
    .await;
}

/// Admin creates a license; `member` takes a seat. Returns the license.
async fn seat(p: &Platform, admin: &User, member: &User) -> Value {
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let body = json!({
        "organization": {"name": format!("Erasure {suffix}"), "domain": format!("erasure-{suffix}.example.com")},
        "seats": 2, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + Duration::days(365),
    });
    let created = p.post_key(admin, "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let activated = p
        .post(member, "/api/enterprise/licenses/activate", json!({"license_key": str_of(&created.body["license_key"])}))
        .await;
    assert_eq!(activated.status, 201, "{}", activated.body);
    created.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_user_leaves_no_personal_string_behind_and_the_books_are_unchanged() {
    let p = Platform::start().await;
    let (admin, instructor, learner, friend) = (User::admin(), User::instructor(), User::learner(), User::learner());
    let marker = format!("Erasable{}", Uuid::new_v4().simple());
    let display_name = format!("Ada {}", &marker[marker.len() - 12..]);

    // Everything a learner does.
    crate::subscription::subscribe(&p, &learner, "pro", "pm_card_visa").await;
    let course = p.publish_course(&instructor, "Erasure-proof payments", "20.00").await;
    let course_id = str_of(&course["id"]);
    p.buy(&learner, &course_id).await;
    let review = json!({"rating": 4, "body": format!("{marker}: clear and practical")});
    let posted = p.post(&learner, &format!("/api/courses/{course_id}/reviews"), review).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let named = p
        .call(
            reqwest::Method::PUT,
            "/api/rewards/profile",
            Some(&learner),
            Some(json!({"display_name": display_name})),
            None,
        )
        .await;
    assert_eq!(named.status, 200, "{}", named.body);
    let asked = p.post(&learner, "/api/friends/requests", json!({"user_id": friend.id})).await;
    assert!(asked.is_success(), "{}", asked.body);
    let accepted = p.post(&friend, &format!("/api/friends/requests/{}/accept", learner.id), json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let award = json!({"user_id": learner.id, "amount": 1000, "reason": "e2e: erasure"});
    assert_eq!(p.post_key(&admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await.status, 201);
    let redeemed =
        p.post_key(&learner, "/api/tokens/redeem", json!({"item": "pro_month"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    seat(&p, &admin, &learner).await;
    p.wait_feature(&learner, "analytics", true).await;
    let ticket = json!({"subject": format!("{marker} cannot sign in"), "description": format!("I am {display_name}"), "priority": "P2"});
    let filed = p.post(&learner, "/api/enterprise/support/tickets", ticket).await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let ticket_path = format!("/api/enterprise/support/tickets/{}", str_of(&filed.body["id"]));
    let reply = json!({"body": format!("Hello {display_name}, looking into it")});
    assert_eq!(p.post(&admin, &format!("{ticket_path}/comments"), reply).await.status, 201);
    p.events.wait_for("marketplace.review.posted.v1", |d| d["reviewer_id"] == learner.id.to_string()).await;
    p.events.wait_for("rewards.tokens.redeemed.v1", |d| d["user_id"] == learner.id.to_string()).await;
    let before = leftovers(&p, &[&marker, &display_name]).await;
    assert!(before.len() >= 4, "the scan sees the learner's strings before: {before:?}");
    let books = money_totals(&p).await;
    assert_ledger_balances(&p).await;

    // Admins only; the request is idempotent.
    let path = format!("/api/admin/users/{}/erasure", learner.id);
    assert_eq!(p.post_key(&learner, &path, json!(null), "self").await.status, 403);
    let key = Uuid::new_v4().to_string();
    let requested = p.post_key(&admin, &path, json!(null), &key).await;
    assert_eq!(requested.status, 202, "{}", requested.body);
    assert_eq!(p.post_key(&admin, &path, json!(null), &key).await.body["id"], requested.body["id"]);
    let status_path = format!("/api/admin/erasures/{}", str_of(&requested.body["id"]));
    assert_eq!(p.get(Some(&learner), &status_path).await.status, 403);
    let done = p
        .eventually("the erasure to complete", || async {
            let res = p.get(Some(&admin), &status_path).await;
            assert_eq!(res.status, 200, "{}", res.body);
            (res.body["status"] == "completed").then_some(res.body)
        })
        .await;
    let services: Vec<&str> =
        done["services"].as_array().unwrap().iter().map(|s| s["service"].as_str().unwrap()).collect();
    assert_eq!(services, SERVICES);
    assert!(done["services"].as_array().unwrap().iter().all(|s| s["status"] == "done"), "{done}");
    for service in SERVICES {
        p.events.wait_for(&format!("{service}.user.erased.v1"), |d| d["user_id"] == learner.id.to_string()).await;
    }

    // Nothing personal anywhere; the books as they were.
    let after = leftovers(&p, &[&marker, &display_name]).await;
    assert!(after.is_empty(), "personal strings left behind: {after:#?}");
    assert_eq!(money_totals(&p).await, books, "erasure changed money");
    assert_ledger_balances(&p).await;
    // Still there, detached: the learner's purchase, receipts and token balance.
    assert_eq!(p.owned(&learner, &course_id).await.len(), 1);
    let history = p.get(Some(&admin), &format!("/api/payments/history?user_id={}", learner.id)).await;
    assert_eq!(history.status, 200, "{}", history.body);
    assert!(history.body["data"].as_array().is_some_and(|d| d.len() >= 2), "{}", history.body);
    let profile = p.get(Some(&learner), "/api/rewards/profile").await;
    assert!(profile.body["display_name"].is_null(), "{}", profile.body);
    let friends = p.get(Some(&friend), "/api/friends").await;
    assert_eq!(friends.body["data"], json!([]), "{}", friends.body);
    assert_eq!(p.get(Some(&admin), &ticket_path).await.body["subject"], "[erased]");
    // The seat went back to the organisation, and with it the Enterprise grant.
    let released = p.events.wait_for("licensing.seat.released.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(released.data["reason"], "user_erased");
    p.wait_feature(&learner, "analytics", false).await;
    assert_webhooks_kept_nothing_of(&p, &admin, &learner).await;
    p.stop().await;
}
