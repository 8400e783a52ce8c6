//! Issue 18, point 2: a data-subject export through the gateway. A user who did a bit of
//! everything gets every service's part with the right rows and amounts, and nothing of another
//! user; an admin gets anyone's, and every service (webhooks included: the events it keeps that
//! name the user) records that read in its audit log; anyone else asking for another user's
//! export is refused.

use crate::subscription::subscribe;
use crate::support::{str_of, unique_word, Platform, User};
use chrono::Duration;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The rows of `section` in `service`'s part.
fn rows<'a>(doc: &'a Value, service: &str, section: &str) -> &'a Vec<Value> {
    doc["services"][service][section].as_array().unwrap_or_else(|| panic!("no {service}.{section} in {doc}"))
}

fn dec(v: &Value) -> Decimal {
    str_of(v).parse().expect("a decimal string")
}

/// The ids and strings of `others` found in `doc`.
fn leaked(doc: &Value, others: &[String]) -> Vec<String> {
    let text = doc.to_string().to_lowercase();
    others.iter().filter(|o| text.contains(&o.to_lowercase())).cloned().collect()
}

async fn export(p: &Platform, caller: &User, path: &str) -> Value {
    let res = p.get(Some(caller), path).await;
    assert_eq!(res.status, 200, "{path}: {}", res.body);
    res.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_export_holds_everything_they_did_and_nothing_of_anyone_else() {
    let p = Platform::start().await;
    let (admin, teacher, bob, cleo) = (User::admin(), User::instructor(), User::learner(), User::learner());
    let ada = User::with_roles(&["learner", "instructor"]);
    let marker = unique_word();

    // Ada: Pro, a course bought and reviewed, a course of her own, tokens awarded and redeemed,
    // a display name, a friend, a seat and a support ticket. Bob: the same course, his review.
    subscribe(&p, &ada, "pro", "pm_card_visa").await;
    let course = p.publish_course(&teacher, &format!("{} export course", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let adas = p.buy(&ada, &course_id).await;
    let bobs = p.buy(&bob, &course_id).await;
    let reviews = format!("/api/courses/{course_id}/reviews");
    let posted = p.post(&ada, &reviews, json!({"rating": 5, "body": format!("{marker} clear and short")})).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let posted = p.post(&bob, &reviews, json!({"rating": 3, "body": "bobs-own-words"})).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let taught = p.publish_course(&ada, &format!("{marker} taught by Ada"), "15.00").await;
    let award = json!({"user_id": ada.id, "amount": 1000, "reason": "e2e: export"});
    let awarded = p.post_key(&admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
    assert_eq!(awarded.status, 201, "{}", awarded.body);
    let redeemed = p.post_key(&ada, "/api/tokens/redeem", json!({"item": "course_voucher"}), "export-1").await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    let name = format!("Ada {marker}");
    let named = p
        .call(Method::PUT, "/api/rewards/profile", Some(&ada), Some(json!({"display_name": name.clone()})), None)
        .await;
    assert_eq!(named.status, 200, "{}", named.body);
    let asked = p.post(&ada, "/api/friends/requests", json!({"user_id": cleo.id})).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let accepted = p.post(&cleo, &format!("/api/friends/requests/{}/accept", ada.id), json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Export {suffix}"), "domain": format!("export-{suffix}.example.com")},
        "seats": 3, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + Duration::days(365),
    });
    let license = p.post_key(&admin, "/api/enterprise/licenses/create", license, &Uuid::new_v4().to_string()).await;
    assert_eq!(license.status, 201, "{}", license.body);
    let key = str_of(&license.body["license_key"]);
    let seat = p.post(&ada, "/api/enterprise/licenses/activate", json!({"license_key": key})).await;
    assert_eq!(seat.status, 201, "{}", seat.body);
    // The seat's Enterprise grant reaches subscriptions by event: wait, so both exports see it.
    p.wait_feature(&ada, "team.management", true).await;
    let ticket = json!({"subject": format!("{marker} SSO"), "description": "since Monday", "priority": "P2"});
    let filed = p.post(&ada, "/api/enterprise/support/tickets", ticket).await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let balance = p.balance(&ada).await;
    // Webhooks keeps every event it receives (to deliver and replay it): wait until it has Ada's
    // review, so its part of the export is known to hold something.
    let reviewed = p.events.wait_for("marketplace.review.posted.v1", |d| d["reviewer_id"] == ada.id.to_string()).await;
    p.eventually("webhooks to keep Ada's review event", || async {
        let doc = export(&p, &ada, "/api/me/export").await;
        rows(&doc, "webhooks", "events").iter().any(|e| e["id"] == json!(reviewed.id)).then_some(())
    })
    .await;

    let doc = export(&p, &ada, "/api/me/export").await;
    assert_eq!(doc["user_id"], json!(ada.id));
    let services: BTreeSet<&str> = doc["services"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        services,
        BTreeSet::from(["billing", "licensing", "marketplace", "rewards", "subscriptions", "webhooks"])
    );
    // billing: the course and the first month, each with a receipt; the Stripe customer.
    let payments = rows(&doc, "billing", "payments");
    let mut amounts: Vec<Decimal> = payments.iter().map(|p| dec(&p["amount"])).collect();
    amounts.sort();
    assert_eq!(amounts, [Decimal::new(999, 2), Decimal::new(20, 0)], "{doc}");
    assert!(payments.iter().any(|p| p["id"] == adas.payment_id.as_str()), "{doc}");
    assert_eq!(rows(&doc, "billing", "receipts").len(), 2, "{doc}");
    assert_eq!(rows(&doc, "billing", "customer").len(), 1, "{doc}");
    assert!(rows(&doc, "billing", "billing_history").len() >= 2, "{doc}");
    // subscriptions: Pro, its charge.
    let grants = rows(&doc, "subscriptions", "grants");
    assert!(grants.iter().any(|g| g["source"] == "license" && g["tier"] == "enterprise"), "{doc}");
    let subs = rows(&doc, "subscriptions", "subscriptions");
    assert_eq!((subs.len(), subs[0]["tier"].as_str()), (1, Some("pro")), "{doc}");
    let charges = rows(&doc, "subscriptions", "charges");
    assert_eq!(charges.iter().map(|c| dec(&c["amount"])).collect::<Vec<_>>(), [Decimal::new(999, 2)], "{doc}");
    // marketplace: the purchase, the review, the course she teaches.
    let purchases = rows(&doc, "marketplace", "purchases");
    assert_eq!(purchases.len(), 1, "{doc}");
    assert_eq!(
        (purchases[0]["id"].as_str(), dec(&purchases[0]["price"])),
        (Some(&*adas.purchase_id), Decimal::new(20, 0))
    );
    let review = rows(&doc, "marketplace", "reviews");
    assert_eq!(review.len(), 1, "{doc}");
    assert!(str_of(&review[0]["body"]).contains(&marker));
    let courses = rows(&doc, "marketplace", "courses");
    assert_eq!((courses.len(), &courses[0]["id"]), (1, &taught["id"]), "{doc}");
    // rewards: the ledger adds up to the balance she sees; the voucher; her name; her friend.
    let ledger = rows(&doc, "rewards", "ledger");
    assert_eq!(ledger.iter().map(|t| t["amount"].as_i64().unwrap()).sum::<i64>(), balance, "{doc}");
    assert_eq!(rows(&doc, "rewards", "account")[0]["balance"], balance);
    assert!(ledger.iter().any(|t| t["kind"] == "award" && t["amount"] == 1000), "{doc}");
    assert_eq!(rows(&doc, "rewards", "redemptions").len(), 1, "{doc}");
    assert_eq!(rows(&doc, "rewards", "vouchers").len(), 1, "{doc}");
    assert_eq!(rows(&doc, "rewards", "profile")[0]["display_name"], name.as_str());
    assert_eq!(rows(&doc, "rewards", "friends")[0]["friend_id"], json!(cleo.id));
    // licensing: the seat, its license, the ticket.
    assert_eq!(rows(&doc, "licensing", "seats").len(), 1, "{doc}");
    assert_eq!(rows(&doc, "licensing", "licenses")[0]["id"], license.body["id"]);
    assert_eq!(rows(&doc, "licensing", "tickets")[0]["id"], filed.body["id"]);
    // webhooks: the events naming her, by id, type and time only (their payloads are the other
    // services' records and name other people too).
    let stored = rows(&doc, "webhooks", "events");
    let review = stored.iter().find(|e| e["id"] == json!(reviewed.id)).expect("her review's event");
    assert_eq!(review["event_type"], "marketplace.review.posted.v1");
    for event in stored {
        let keys: BTreeSet<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["event_type", "id", "occurred_at", "received_at"]), "{event}");
    }
    // Nothing of Bob's.
    let bobs_things = [bob.id.to_string(), bobs.purchase_id.clone(), bobs.payment_id.clone(), "bobs-own-words".into()];
    assert_eq!(leaked(&doc, &bobs_things), Vec::<String>::new());

    // Bob gets his own, and nothing of Ada's.
    let his = export(&p, &bob, "/api/me/export").await;
    assert_eq!(rows(&his, "marketplace", "purchases").len(), 1, "{his}");
    assert_eq!(rows(&his, "billing", "payments").len(), 1, "{his}");
    assert!(rows(&his, "subscriptions", "subscriptions").is_empty() && rows(&his, "licensing", "seats").is_empty());
    let adas_things = [ada.id.to_string(), adas.purchase_id.clone(), adas.payment_id.clone(), marker.clone(), key];
    assert_eq!(leaked(&his, &adas_things), Vec::<String>::new());

    // Only admins read another user's: Bob is refused, the admin gets Ada's and each service
    // records the read.
    let hers = format!("/api/admin/users/{}/export", ada.id);
    let refused = p.get(Some(&bob), &hers).await;
    assert_eq!((refused.status, refused.body["code"].clone()), (403, json!("forbidden")), "{}", refused.body);
    assert_eq!(p.get(None, "/api/me/export").await.status, 401);
    let by_admin = export(&p, &admin, &hers).await;
    // Webhooks may have received more of her events since (it keeps them as they come); what it
    // had stays.
    let mut now_services = by_admin["services"].clone();
    let mut then_services = doc["services"].clone();
    let later = now_services.as_object_mut().unwrap().remove("webhooks").expect("webhooks' part");
    let earlier = then_services.as_object_mut().unwrap().remove("webhooks").expect("webhooks' part");
    assert_eq!(now_services, then_services);
    let later = later["events"].as_array().unwrap();
    assert!(earlier["events"].as_array().unwrap().iter().all(|e| later.contains(e)), "{later:?}");
    let audit = p.get(Some(&admin), &format!("/api/admin/audit?action=admin.read&target=user:{}", ada.id)).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let entries: Vec<&Value> =
        audit.body["data"].as_array().unwrap().iter().filter(|e| e["changes"]["resource"] == "export").collect();
    let audited: BTreeSet<&str> = entries.iter().map(|e| e["service"].as_str().unwrap()).collect();
    assert_eq!(audited, services, "{}", audit.body);
    assert!(entries.iter().all(|e| e["actor_sub"] == admin.id.to_string()), "{}", audit.body);
    p.stop().await;
}
