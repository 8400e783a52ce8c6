//! Test clocks (issue 23, point 5) through the gateway, with the real broker and database: objects
//! attached to a sandbox clock renew, retry, expire, breach and mature when the clock is advanced,
//! with the same events as in real time; objects on no clock (or on another clock) do not move.

use crate::subscription::{me, period_end};
use crate::support::{amount, intent_of, str_of, Platform, User};
use chrono::{DateTime, Duration, Utc};
use platform::clock::Clock;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn at(v: &Value) -> DateTime<Utc> {
    str_of(v).parse().expect("RFC 3339")
}

async fn create_clock(p: &Platform, owner: &User, frozen: DateTime<Utc>) -> String {
    let res = p.post(owner, "/api/test-clocks", json!({"name": "sandbox", "frozen_time": frozen})).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["status"], "ready");
    str_of(&res.body["id"])
}

/// Advance the clock and wait until subscriptions has run everything due on it.
async fn advance(p: &Platform, owner: &User, clock: &str, to: DateTime<Utc>) {
    let path = format!("/api/test-clocks/{clock}/advance");
    let res = p.post_key(owner, &path, json!({ "to": to }), &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(at(&res.body["now"]), to);
    p.eventually("the clock to be ready", || async {
        let c = p.get(Some(owner), &format!("/api/test-clocks/{clock}")).await;
        (c.body["status"] == "ready").then_some(())
    })
    .await;
}

/// A POST that names a clock, retried (with a fresh key) until the service has learnt the clock
/// from `subscriptions.test_clock.advanced.v1`: until then it answers 422 on `test_clock`.
async fn post_on_clock(p: &Platform, user: &User, path: &str, body: Value) -> Value {
    p.eventually(&format!("{path} on the clock"), || async {
        let res = p.post_key(user, path, body.clone(), &Uuid::new_v4().to_string()).await;
        if res.status == 422 && res.body["errors"][0]["field"] == "test_clock" {
            return None;
        }
        assert_eq!(res.status, 201, "{path}: {}", res.body);
        Some(res.body)
    })
    .await
}

async fn subscribe_on(p: &Platform, user: &User, clock: &str, card: &str) -> Value {
    let created = post_on_clock(p, user, "/api/subscriptions", json!({"tier": "pro", "test_clock": clock})).await;
    assert_eq!(created["subscription"]["test_clock"], clock);
    let intent = intent_of(&created["client_secret"]);
    let _ = p.fake.confirm_payment_intent(&intent, card);
    if card == "pm_card_authenticationRequired" {
        p.fake.complete_authentication(&intent).expect("3-D Secure completes");
    }
    p.eventually("the subscription active", || async {
        let m = me(p, user).await;
        (m["subscription"]["status"] == "active").then_some(m)
    })
    .await
}

/// The instructor's USD earnings by status (`pending`, `available`).
async fn earnings(p: &Platform, instructor: &User) -> Value {
    let res = p.get(Some(instructor), "/api/instructors/me/earnings").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .find(|t| t["currency"] == "USD")
        .map(|t| t["by_status"].clone())
        .unwrap_or(Value::Null)
}

/// A license for a fresh organisation (on `clock` if given) and a member holding a seat on it.
async fn license_with_member(p: &Platform, admin: &User, clock: Option<&str>, expires: DateTime<Utc>) -> (Value, User) {
    let t0 = p.licensing_clock.now();
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let mut body = json!({
        "organization": {"name": format!("Clock {suffix}"), "domain": format!("clock-{suffix}.example.com")},
        "seats": 2, "tier": "enterprise", "starts_at": t0 - Duration::hours(1), "expires_at": expires,
    });
    let license = match clock {
        Some(clock) => {
            body["test_clock"] = json!(clock);
            post_on_clock(p, admin, "/api/enterprise/licenses/create", body).await
        }
        None => {
            let res = p.post_key(admin, "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await;
            assert_eq!(res.status, 201, "{}", res.body);
            res.body
        }
    };
    let member = User::learner();
    let key = str_of(&license["license_key"]);
    let seat = p.post(&member, "/api/enterprise/licenses/activate", json!({"license_key": key})).await;
    assert_eq!(seat.status, 201, "{}", seat.body);
    (license, member)
}

async fn file_p1(p: &Platform, member: &User) -> String {
    let body = json!({"subject": "SSO fails", "description": "since this morning", "priority": "P1"});
    let res = p.post(member, "/api/enterprise/support/tickets", body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    str_of(&res.body["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_on_a_test_clock_move_with_it_and_nothing_else_does() {
    let p = Platform::start().await;
    let t0 = p.subscriptions_clock.now();
    let (ada, bob, cleo, admin) = (User::learner(), User::learner(), User::learner(), User::admin());
    let ada_clock = create_clock(&p, &ada, t0).await;
    let bob_clock = create_clock(&p, &bob, t0).await;
    let admin_clock = create_clock(&p, &admin, t0).await;

    // Someone else's clock is refused, as if it did not exist.
    let res = p.post_key(&cleo, "/api/subscriptions", json!({"tier": "pro", "test_clock": ada_clock}), "c-1").await;
    assert_eq!((res.status, res.body["errors"][0]["field"].clone()), (422, json!("test_clock")), "{}", res.body);
    assert_eq!(p.get(Some(&cleo), &format!("/api/test-clocks/{ada_clock}")).await.status, 404);

    // Subscriptions: Ada's (good card) and Bob's (declines off-session) on their clocks, Cleo's on none.
    let ada_me = subscribe_on(&p, &ada, &ada_clock, "pm_card_visa").await;
    assert_eq!(at(&ada_me["subscription"]["current_period_start"]), t0, "started at the clock's time");
    let ada_end = period_end(&ada_me);
    let bob_end = period_end(&subscribe_on(&p, &bob, &bob_clock, "pm_card_authenticationRequired").await);
    let cleo_end = period_end(&crate::subscription::subscribe(&p, &cleo, "pro", "pm_card_visa").await);

    // Marketplace: Ada buys a course on her clock; Cleo buys another on none.
    let (teacher_a, teacher_c) = (User::instructor(), User::instructor());
    let course_a = p.publish_course(&teacher_a, "Clocks in Rust", "20.00").await;
    let course_c = p.publish_course(&teacher_c, "Calendars in Rust", "20.00").await;
    let bought = post_on_clock(
        &p,
        &ada,
        "/api/courses/purchase",
        json!({"course_id": str_of(&course_a["id"]), "test_clock": ada_clock}),
    )
    .await;
    p.confirm(&bought["client_secret"], "pm_card_visa");
    p.wait_owned(&ada, &str_of(&course_a["id"])).await;
    let bought = p.purchase(&cleo, &str_of(&course_c["id"])).await;
    p.confirm(&bought["client_secret"], "pm_card_visa");
    p.wait_owned(&cleo, &str_of(&course_c["id"])).await;
    for teacher in [&teacher_a, &teacher_c] {
        p.eventually("pending earnings", || async {
            (earnings(&p, teacher).await["pending"]["amount"] == "14.00").then_some(())
        })
        .await;
    }

    // Licensing: a license on the admin's clock and one on none, each with a P1 ticket (enterprise:
    // first response within 60 minutes, around the clock).
    let (clocked, clocked_member) = license_with_member(&p, &admin, Some(&admin_clock), t0 + Duration::days(10)).await;
    let (plain, plain_member) = license_with_member(&p, &admin, None, t0 + Duration::days(10)).await;
    let clocked_ticket = file_p1(&p, &clocked_member).await;
    let plain_ticket = file_p1(&p, &plain_member).await;

    // Real time moves (marketplace a month, licensing two hours): the objects on no clock move,
    // the ones on a clock do not.
    p.marketplace_clock.advance(Duration::days(31));
    p.licensing_clock.advance(Duration::hours(2));
    p.eventually("Cleo's teacher paid out", || async {
        (earnings(&p, &teacher_c).await["available"]["amount"] == "14.00").then_some(())
    })
    .await;
    p.events.wait_for("licensing.ticket.sla_breached.v1", |d| d["ticket_id"] == plain_ticket.as_str()).await;
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(
        amount(&earnings(&p, &teacher_a).await["pending"]),
        "14.00",
        "a purchase on a clock matured in real time"
    );
    let breached =
        |ticket: &str| p.events.distinct("licensing.ticket.sla_breached.v1", |d| d["ticket_id"] == ticket).len();
    assert_eq!(breached(&clocked_ticket), 0, "a ticket on a clock breached in real time");

    // Ada's clock passes her period end and the refund window: renewal charged, earnings available.
    advance(&p, &ada, &ada_clock, ada_end.max(t0 + Duration::days(30)) + Duration::hours(1)).await;
    let renewed =
        p.events.wait_for("subscriptions.subscription.renewed.v1", |d| d["user_id"] == ada.id.to_string()).await;
    assert_eq!(renewed.data["amount"]["amount"], "9.99");
    assert_eq!(at(&renewed.data["current_period_start"]), ada_end);
    p.eventually("Ada's teacher paid out", || async {
        (earnings(&p, &teacher_a).await["available"]["amount"] == "14.00").then_some(())
    })
    .await;

    // Bob's clock passes his period end: declined, past_due, retried a day later in clock time.
    advance(&p, &bob, &bob_clock, bob_end + Duration::seconds(1)).await;
    let first =
        p.events.wait_for("subscriptions.subscription.past_due.v1", |d| d["user_id"] == bob.id.to_string()).await;
    assert_eq!(first.data["attempt"], 1);
    let retry_at = at(&first.data["next_retry_at"]);
    assert_eq!(retry_at, bob_end + Duration::seconds(1) + Duration::days(1));
    advance(&p, &bob, &bob_clock, retry_at + Duration::seconds(1)).await;
    p.events
        .wait_for("subscriptions.subscription.past_due.v1", |d| d["user_id"] == bob.id.to_string() && d["attempt"] == 2)
        .await;

    // The admin's clock: two hours breach the ticket on it; eleven days expire its license.
    advance(&p, &admin, &admin_clock, t0 + Duration::hours(2)).await;
    p.events.wait_for("licensing.ticket.sla_breached.v1", |d| d["ticket_id"] == clocked_ticket.as_str()).await;
    advance(&p, &admin, &admin_clock, t0 + Duration::days(11)).await;
    let expired = p.events.wait_for("licensing.license.expired.v1", |d| d["license_id"] == clocked["id"]).await;
    assert_eq!(expired.data["seats_released"], 1);

    // Nothing on no clock moved with them.
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    assert!(p.events.distinct("licensing.license.expired.v1", |d| d["license_id"] == plain["id"]).is_empty());
    let cleo_renewals =
        p.events.distinct("subscriptions.subscription.renewed.v1", |d| d["user_id"] == cleo.id.to_string());
    assert!(cleo_renewals.is_empty(), "{cleo_renewals:?}");
    assert_eq!(period_end(&me(&p, &cleo).await), cleo_end);
    // Every clock move reached the other services as an event (on the contract: checked at stop).
    let moves = p.events.distinct("subscriptions.test_clock.advanced.v1", |d| d["clock_id"] == admin_clock.as_str());
    assert_eq!(moves.len(), 3, "created, +2 h, +11 days");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_purchase_and_a_tickets_actions_on_a_test_clock_follow_the_clock() {
    let p = Platform::start().await;
    let t0 = p.subscriptions_clock.now();
    let (ada, admin) = (User::learner(), User::admin());
    let ada_clock = create_clock(&p, &ada, t0).await;
    let admin_clock = create_clock(&p, &admin, t0).await;

    // Marketplace: Ada's unpaid purchase on her clock outlives a day of real time, then expires
    // when her clock passes MARKETPLACE_PURCHASE_EXPIRY_MINUTES (a day).
    let teacher = User::instructor();
    let course = p.publish_course(&teacher, "Deadlines in Rust", "20.00").await;
    let course_id = str_of(&course["id"]);
    let unpaid =
        post_on_clock(&p, &ada, "/api/courses/purchase", json!({"course_id": course_id, "test_clock": ada_clock}))
            .await;
    assert_eq!((unpaid["status"].clone(), unpaid["test_clock"].clone()), (json!("pending"), json!(ada_clock)));
    let purchase = str_of(&unpaid["id"]);
    let voided = |p: &Platform| {
        p.events.distinct("marketplace.payment.void_requested.v1", |d| d["reference_id"] == purchase.as_str()).len()
    };
    p.marketplace_clock.advance(Duration::hours(25));
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(voided(&p), 0, "a purchase on a clock expired in real time");
    advance(&p, &ada, &ada_clock, t0 + Duration::hours(24) + Duration::minutes(1)).await;
    let void =
        p.events.wait_for("marketplace.payment.void_requested.v1", |d| d["reference_id"] == purchase.as_str()).await;
    assert_eq!(void.data["reason"], "purchase_expired");

    // Licensing: a license on the admin's clock; its P1 ticket (first response within 60 minutes,
    // resolution within 240) answered 30 minutes in by the clock, breached at 4 h by the clock.
    let (license, member) = license_with_member(&p, &admin, Some(&admin_clock), t0 + Duration::days(10)).await;
    assert_eq!(license["test_clock"], json!(admin_clock));
    let ticket = file_p1(&p, &member).await;
    advance(&p, &admin, &admin_clock, t0 + Duration::minutes(30)).await;
    // Licensing follows the clock on its own (the status above is subscriptions'): answer once
    // it has, since a comment is not idempotent.
    let clock_id: Uuid = admin_clock.parse().expect("a clock id");
    testkit::test_clocks::wait_until_at(&p.replicas_of("licensing")[0], clock_id, t0 + Duration::minutes(30)).await;
    let path = format!("/api/enterprise/support/tickets/{ticket}/comments");
    let res = p.post(&admin, &path, json!({"body": "Looking into it"})).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let answered = res.body;
    assert_eq!(at(&answered["comments"][0]["created_at"]), t0 + Duration::minutes(30));
    assert_eq!(at(&answered["sla"]["first_response"]["met_at"]), t0 + Duration::minutes(30));
    // The service's own time moving does not breach it; the clock passing 4 h does, at its time.
    p.licensing_clock.advance(Duration::hours(6));
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert!(p.events.distinct("licensing.ticket.sla_breached.v1", |d| d["ticket_id"] == ticket.as_str()).is_empty());
    advance(&p, &admin, &admin_clock, t0 + Duration::hours(4) + Duration::minutes(1)).await;
    let breach = p.events.wait_for("licensing.ticket.sla_breached.v1", |d| d["ticket_id"] == ticket.as_str()).await;
    assert_eq!(breach.data["target"], "resolution");
    assert_eq!(at(&breach.data["due_at"]), t0 + Duration::hours(4));
    assert_eq!(at(&breach.data["breached_at"]), t0 + Duration::hours(4) + Duration::minutes(1));
    p.stop().await;
}
