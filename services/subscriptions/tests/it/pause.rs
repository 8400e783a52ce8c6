//! Pause and resume across billing periods, on the business clock (issue 20, point 3).

use crate::support::Stack;
use chrono::{DateTime, Datelike, Duration, Utc};
use events::CloudEvent;
use platform::clock::Clock;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use subscriptions::domain::period::{end_after_periods, next_period_end};
use uuid::Uuid;

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

/// The next `event_type` about `user` (other users' events are skipped).
async fn expect_for(s: &mut Stack, user: Uuid, event_type: &str) -> CloudEvent {
    loop {
        let e = s.events.expect(event_type, StdDuration::from_secs(20)).await;
        if e.data["user_id"] == user.to_string() {
            return e;
        }
    }
}

async fn pause(s: &Stack, user: Uuid, periods: i64, key: &str) -> reqwest::Response {
    s.post(user, "/api/subscriptions/me/pause", json!({ "periods": periods }), Some(key)).await
}

/// The MRR history's kinds for the user's subscription, oldest first (`-` for none).
async fn mrr_kinds(s: &Stack, user: Uuid) -> Vec<String> {
    use diesel::sql_types::{Text, Uuid as SqlUuid};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        kind: String,
    }
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.expect("database");
    let schema = s.env.schema("subscriptions");
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT coalesce(kind, '-') AS kind FROM {schema}.mrr_movements WHERE user_id = $1 ORDER BY id"
    ))
    .bind::<SqlUuid, _>(user)
    .load(&mut conn)
    .await
    .expect("mrr history");
    rows.into_iter().map(|r| r.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_starts_at_the_period_end_charges_nothing_and_resumes_anchored_after_its_periods() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    let end = at(&me["subscription"]["current_period_end"]);
    let anchor = end.day();

    // Scheduled: access continues until the paid period ends.
    let res = pause(&s, user, 2, "pause-1").await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let sub: Value = res.json().await.unwrap();
    let resumes_at = end_after_periods(end, anchor, 2);
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["pause"]["periods"], 2);
    assert_eq!(at(&sub["pause"]["starts_at"]), end);
    assert_eq!(at(&sub["pause"]["resumes_at"]), resumes_at);
    // The same key replays; another pause is refused.
    let again = pause(&s, user, 2, "pause-1").await;
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(again.json::<Value>().await.unwrap(), sub);
    assert_eq!(pause(&s, user, 1, "pause-2").await.status(), 409);
    assert_eq!(s.feature(user, "certificates").await["allowed"], true, "paid until the period end");

    // The period ends: paused, no charge, no access.
    let payments_before = s.fake.payment_intents().len();
    s.clock.set(end + Duration::seconds(1));
    let paused = expect_for(&mut s, user, "subscriptions.subscription.paused.v1").await;
    assert_eq!(paused.data["status"], "paused");
    assert_eq!(paused.data["periods"], 2);
    assert_eq!(at(&paused.data["resumes_at"]), resumes_at);
    let f = s.wait_feature(user, "certificates", false).await;
    assert_eq!(f["tier"], "free");
    // A month in: still nothing charged, and a paused subscription cannot upgrade or pause again.
    s.clock.set(end + Duration::days(31));
    tokio::time::sleep(StdDuration::from_millis(400)).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "paused");
    assert_eq!(s.fake.payment_intents().len(), payments_before, "no charge while paused");
    let up = s.post(user, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), Some("up-while-paused")).await;
    assert_eq!(up.status(), 409);
    assert_eq!(up.json::<Value>().await.unwrap()["code"], "illegal_transition");
    assert_eq!(pause(&s, user, 1, "pause-3").await.status(), 409);
    // Someone else cannot subscribe a second time meanwhile: the paused one is still theirs.
    let second = s.post(user, "/api/subscriptions", json!({"tier": "pro"}), Some("second")).await;
    assert_eq!(second.status(), 409);

    // Two periods later it resumes by itself, anchored where the pause ended, and is charged.
    s.clock.set(resumes_at + Duration::minutes(5));
    let resumed = expect_for(&mut s, user, "subscriptions.subscription.resumed.v1").await;
    assert_eq!(resumed.data["reason"], "scheduled");
    assert_eq!(at(&resumed.data["paused_at"]), end);
    let renewed = expect_for(&mut s, user, "subscriptions.subscription.renewed.v1").await;
    assert_eq!(renewed.data["amount"], json!({"amount": "9.99", "currency": "USD"}));
    assert_eq!(at(&renewed.data["current_period_start"]), resumes_at, "not the tick's time");
    assert_eq!(at(&renewed.data["current_period_end"]), next_period_end(resumes_at, resumes_at.day()));
    let me = s.me(user).await;
    assert_eq!(me["subscription"]["status"], "active");
    assert!(me["subscription"]["pause"].is_null());
    assert_eq!(s.wait_feature(user, "certificates", true).await["source"], "subscription");
    assert_eq!(s.fake.payment_intents().len(), payments_before + 1, "one charge at the resume");
    // MRR: out at the pause, back in at the resume.
    assert_eq!(mrr_kinds(&s, user).await, ["-", "new", "churn", "reactivation"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_early_anchors_the_period_now_and_a_declined_resume_charge_runs_dunning() {
    let mut s = Stack::start().await;
    let (good, bad) = (Uuid::now_v7(), Uuid::now_v7());
    let me = s.subscribe_and_pay(good, "pro", "pm_card_visa").await;
    // Pays on-session (after authentication), declines every off-session charge.
    s.subscribe_and_pay(bad, "pro", "pm_card_authenticationRequired").await;
    let end = at(&me["subscription"]["current_period_end"]);
    for (user, key) in [(good, "p-good"), (bad, "p-bad")] {
        assert_eq!(pause(&s, user, 3, key).await.status(), 200);
    }
    s.clock.set(end + Duration::hours(1));
    expect_for(&mut s, good, "subscriptions.subscription.paused.v1").await;
    s.wait_status(bad, "paused").await;

    // Ten days into the pause the subscriber comes back.
    s.clock.set(end + Duration::days(10));
    let now = s.clock.now();
    let no_key = s.post(good, "/api/subscriptions/me/resume", json!(null), None).await;
    assert_eq!(no_key.status(), 400, "ending a pause charges: a key is required");
    assert_eq!(no_key.json::<Value>().await.unwrap()["code"], "idempotency_key_required");
    let res = s.post(good, "/api/subscriptions/me/resume", json!(null), Some("resume-1")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let sub: Value = res.json().await.unwrap();
    assert_eq!(sub["status"], "active");
    assert_eq!(at(&sub["current_period_start"]), now, "anchored at the resume");
    assert_eq!(at(&sub["current_period_end"]), next_period_end(now, now.day()));
    let resumed = expect_for(&mut s, good, "subscriptions.subscription.resumed.v1").await;
    assert_eq!(resumed.data["reason"], "requested");
    let renewed = expect_for(&mut s, good, "subscriptions.subscription.renewed.v1").await;
    assert_eq!(renewed.data["amount"]["amount"], "9.99");
    let replay = s.post(good, "/api/subscriptions/me/resume", json!(null), Some("resume-1")).await;
    assert_eq!(replay.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(replay.json::<Value>().await.unwrap(), sub);
    // Nothing paused or scheduled any more.
    assert_eq!(s.post(good, "/api/subscriptions/me/resume", json!(null), Some("resume-2")).await.status(), 409);

    // The declining card: resumed, charged, declined, dunning as for any renewal.
    let res = s.post(bad, "/api/subscriptions/me/resume", json!(null), Some("resume-bad")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "past_due");
    let past_due = expect_for(&mut s, bad, "subscriptions.subscription.past_due.v1").await;
    assert_eq!(past_due.data["attempt"], 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_pause_ends_it_at_once_and_the_rules_refuse_what_cannot_pause() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    let me = s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    let end = at(&me["subscription"]["current_period_end"]);
    let bad = pause(&s, user, 4, "p-4").await;
    assert_eq!(bad.status(), 422);
    assert_eq!(bad.json::<Value>().await.unwrap()["errors"][0]["field"], "periods");
    assert_eq!(pause(&s, user, 0, "p-0").await.status(), 422);
    assert_eq!(s.post(user, "/api/subscriptions/me/pause", json!({"periods": 1}), None).await.status(), 400);
    // A scheduled pause is withdrawn by resume (no key needed: nothing is charged).
    assert_eq!(pause(&s, user, 1, "p-1").await.status(), 200);
    let withdrawn: Value = s.post(user, "/api/subscriptions/me/resume", json!(null), None).await.json().await.unwrap();
    assert!(withdrawn["pause"].is_null(), "{withdrawn}");
    // A cancellation at the period end blocks a pause until withdrawn.
    assert_eq!(s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": true}), None).await.status(), 200);
    assert_eq!(pause(&s, user, 1, "p-canceling").await.status(), 409);
    assert_eq!(s.post(user, "/api/subscriptions/me/resume", json!(null), None).await.status(), 200);
    assert_eq!(pause(&s, user, 3, "p-3").await.status(), 200);
    s.clock.set(end + Duration::seconds(1));
    s.wait_status(user, "paused").await;
    // Canceling during the pause ends it now, even when asked for at the period end.
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": true}), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "canceled");
    let canceled = expect_for(&mut s, user, "subscriptions.subscription.canceled.v1").await;
    assert_eq!(canceled.data["reason"], "requested");
    // Nothing resumes later.
    s.clock.set(end + Duration::days(120));
    tokio::time::sleep(StdDuration::from_millis(400)).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "canceled");

    // Not active yet (incomplete) or retrying a renewal (past_due): refused.
    let unpaid = Uuid::now_v7();
    s.subscribe_unpaid(unpaid, "pro").await;
    assert_eq!(pause(&s, unpaid, 1, "p-unpaid").await.status(), 409);
    let failing = Uuid::now_v7();
    let me = s.subscribe_and_pay(failing, "pro", "pm_card_authenticationRequired").await;
    s.clock.set(at(&me["subscription"]["current_period_end"]) + Duration::seconds(1));
    s.wait_status(failing, "past_due").await;
    assert_eq!(pause(&s, failing, 1, "p-past-due").await.status(), 409);
    s.stop().await;
}
