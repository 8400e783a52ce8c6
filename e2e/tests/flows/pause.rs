//! Issue 20, point 3, through the gateway on subscriptions' clock with the real stripe-fake: a
//! pause of whole periods charges nothing and ends access at the paid period's end; it resumes by
//! itself (charged, anchored where the pause ended) or early (charged, anchored at the resume),
//! and the next renewal follows the new anchor. Billing's side: one payment and one invoice per
//! period actually paid, none for the paused ones.

use crate::subscription::{me, period_end, subscribe};
use crate::support::{str_of, Platform, User};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use subscriptions::domain::period::{end_after_periods, next_period_end};
use uuid::Uuid;

fn at(v: &Value) -> DateTime<Utc> {
    str_of(v).parse().expect("RFC 3339")
}

fn of(user: &User) -> impl Fn(&Value) -> bool + '_ {
    move |d: &Value| d["user_id"] == user.id.to_string()
}

/// The user's successful payments as billing announced them.
fn payments(p: &Platform, user: &User) -> usize {
    p.events.distinct("billing.payment.succeeded.v1", of(user)).len()
}

async fn invoices(p: &Platform, user: &User) -> Vec<Value> {
    let res = p.get(Some(user), "/api/payments/invoices?limit=100").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["data"].as_array().expect("a page").clone()
}

/// Wait for the user's `n`th invoice (newest first in the list).
async fn wait_invoices(p: &Platform, user: &User, n: usize) -> Vec<Value> {
    p.eventually(&format!("{n} invoices"), || async {
        let list = invoices(p, user).await;
        (list.len() == n).then_some(list)
    })
    .await
}

async fn pause(p: &Platform, user: &User, periods: i64) -> Value {
    let body = json!({ "periods": periods });
    let res = p.post_key(user, "/api/subscriptions/me/pause", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_charges_nothing_ends_access_at_the_paid_end_and_resumes_anchored_by_itself_or_early() {
    let p = Platform::start().await;
    // Both subscribe now: the same paid period.
    let scheduled = User::learner();
    let early = User::learner();
    let m = subscribe(&p, &scheduled, "pro", "pm_card_visa").await;
    subscribe(&p, &early, "pro", "pm_card_visa").await;
    let end = period_end(&m);
    assert_eq!(period_end(&me(&p, &early).await), end);
    for user in [&scheduled, &early] {
        p.events.wait_for("billing.payment.succeeded.v1", of(user)).await;
        wait_invoices(&p, user, 1).await;
    }

    // Scheduled for the period end: nothing changes before it.
    let sub = pause(&p, &scheduled, 2).await;
    let resumes_at = end_after_periods(end, end.day(), 2);
    assert_eq!((sub["status"].as_str(), sub["pause"]["periods"].as_i64()), (Some("active"), Some(2)), "{sub}");
    assert_eq!(at(&sub["pause"]["starts_at"]), end);
    assert_eq!(at(&sub["pause"]["resumes_at"]), resumes_at);
    pause(&p, &early, 3).await;
    assert_eq!(p.feature(&scheduled, "certificates").await["allowed"], true, "paid until the period end");

    // The paid period ends: paused, access gone, no charge.
    p.subscriptions_clock.set(end + Duration::seconds(1));
    for user in [&scheduled, &early] {
        let paused = p.events.wait_for("subscriptions.subscription.paused.v1", of(user)).await;
        assert_eq!(paused.data["status"], "paused");
        if user.id == scheduled.id {
            assert_eq!(at(&paused.data["resumes_at"]), resumes_at);
        }
        let f = p.wait_feature(user, "certificates", false).await;
        assert_eq!(f["tier"], "free", "{f}");
    }

    // Ten days in, one comes back early: charged now, the period anchored at the resume.
    let resumed_on = end + Duration::days(10);
    p.subscriptions_clock.set(resumed_on);
    let no_key = p.post(&early, "/api/subscriptions/me/resume", json!(null)).await;
    assert_eq!(no_key.status, 400, "ending a pause charges: {}", no_key.body);
    assert_eq!(no_key.body["code"], "idempotency_key_required");
    let res = p.post_key(&early, "/api/subscriptions/me/resume", json!(null), "resume-early").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["status"], "active", "{}", res.body);
    let early_end = next_period_end(resumed_on, resumed_on.day());
    assert_eq!(at(&res.body["current_period_start"]), resumed_on, "anchored at the resume");
    assert_eq!(at(&res.body["current_period_end"]), early_end);
    let resumed = p.events.wait_for("subscriptions.subscription.resumed.v1", of(&early)).await;
    assert_eq!((&resumed.data["reason"], at(&resumed.data["paused_at"])), (&json!("requested"), end));
    p.eventually("the early resume paid", || async { (payments(&p, &early) == 2).then_some(()) }).await;
    p.wait_feature(&early, "certificates", true).await;
    let list = wait_invoices(&p, &early, 2).await;
    assert_eq!(list[0]["total"]["amount"], "9.99", "{}", list[0]);

    // A month into the two-period pause: still paused, still nothing charged.
    p.subscriptions_clock.set(end + Duration::days(31));
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(me(&p, &scheduled).await["subscription"]["status"], "paused");
    assert_eq!(payments(&p, &scheduled), 1, "no charge while paused");

    // The early one's first period after the resume ends: renewed on the new anchor.
    p.subscriptions_clock.set(early_end + Duration::seconds(1));
    let starts_at =
        |d: &Value, t: DateTime<Utc>| d["current_period_start"].as_str().and_then(|s| s.parse().ok()) == Some(t);
    let renewed =
        p.events.wait_for("subscriptions.subscription.renewed.v1", |d| of(&early)(d) && starts_at(d, early_end)).await;
    assert_eq!(at(&renewed.data["current_period_end"]), next_period_end(early_end, resumed_on.day()));
    p.eventually("the early one's renewal paid", || async { (payments(&p, &early) == 3).then_some(()) }).await;
    assert_eq!(me(&p, &scheduled).await["subscription"]["status"], "paused", "still within its two periods");
    assert_eq!(payments(&p, &scheduled), 1);

    // Two periods after the paid end the other resumes by itself, anchored where the pause ended
    // (not at the scheduler's tick), and is charged once.
    p.subscriptions_clock.set(resumes_at + Duration::minutes(5));
    let resumed = p.events.wait_for("subscriptions.subscription.resumed.v1", of(&scheduled)).await;
    assert_eq!(resumed.data["reason"], "scheduled");
    let renewed = p.events.wait_for("subscriptions.subscription.renewed.v1", of(&scheduled)).await;
    assert_eq!(renewed.data["amount"], json!({"amount": "9.99", "currency": "USD"}));
    assert_eq!(at(&renewed.data["current_period_start"]), resumes_at, "not the tick's time");
    let next_end = next_period_end(resumes_at, resumes_at.day());
    assert_eq!(at(&renewed.data["current_period_end"]), next_end);
    p.eventually("the resume paid", || async { (payments(&p, &scheduled) == 2).then_some(()) }).await;
    let f = p.wait_feature(&scheduled, "certificates", true).await;
    assert_eq!(f["source"], "subscription", "{f}");
    let m = me(&p, &scheduled).await;
    assert!(m["subscription"]["pause"].is_null(), "{m}");
    wait_invoices(&p, &scheduled, 2).await;

    // Its next renewal follows the new anchor: one more charge, one more invoice, no other.
    p.subscriptions_clock.set(next_end + Duration::seconds(1));
    p.eventually("the renewal after the resume", || async {
        let m = me(&p, &scheduled).await;
        (at(&m["subscription"]["current_period_start"]) == next_end).then_some(())
    })
    .await;
    p.eventually("the renewal paid", || async { (payments(&p, &scheduled) == 3).then_some(()) }).await;
    let list = wait_invoices(&p, &scheduled, 3).await;
    assert!(
        list.iter().all(|i| i["total"]["amount"] == "9.99"),
        "three paid periods, three invoices of 9.99: {list:?}"
    );
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(payments(&p, &scheduled), 3, "the two paused periods were never charged");
    p.stop().await;
}
