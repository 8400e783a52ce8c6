//! Free trials (issue 20, point 1), on the business clock: a tier's trial is data; access during
//! it with nothing charged; `trial_will_end` once, three days before the end; at the end the
//! saved card is charged through billing and stripe-fake (with an invoice) or the subscription
//! ends; one trial per user and tier, even when two subscribes race; cancel and plan change
//! during a trial; MRR only from the first charge.

use crate::cards::save_card;
use crate::support::Stack;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use platform::auth::Role;
use platform::clock::Clock;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::Duration as StdDuration;
use uuid::Uuid;

const WILL_END: &str = "subscriptions.subscription.trial_will_end.v1";

/// Operators give a tier a trial with SQL, like its prices.
async fn offer_trial(s: &Stack, tier: &str, days: i32, mode: &str) {
    s.sql(&format!("UPDATE {{schema}}.tiers SET trial_days = {days}, trial_mode = '{mode}' WHERE code = '{tier}'"))
        .await;
}

/// Save `card` and wait until billing has it as the default (its webhook is asynchronous).
async fn save_default_card(s: &Stack, user: Uuid, card: &str) {
    save_card(s, user, card).await;
    let token = testkit::internal_token("billing", &user.to_string(), &[Role::Learner]);
    testkit::eventually("the default card", StdDuration::from_secs(15), || async {
        let page: Value = s
            .http
            .get(format!("{}/api/payments/methods", s.billing.url()))
            .header("x-internal-token", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["data"].as_array().is_some_and(|m| m.iter().any(|m| m["default"] == true)).then_some(())
    })
    .await;
}

async fn subscribe(s: &Stack, user: Uuid, tier: &str) -> reqwest::Response {
    s.post(user, "/api/subscriptions", json!({"tier": tier}), Some(&Uuid::new_v4().to_string())).await
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn trials_claimed(s: &Stack, user: Uuid) -> Decimal {
    s.number("SELECT count(*)::numeric AS n FROM {schema}.trial_claims WHERE user_id = $1", user).await
}

/// Events of `event_type` published within `window` (after the scheduler had time to tick).
async fn published(s: &mut Stack, event_type: &str, window: StdDuration) -> usize {
    s.events.drain(window).await.iter().filter(|e| e.event_type == event_type).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_card_trial_gives_access_reminds_once_three_days_before_and_ends_without_a_card() {
    let mut s = Stack::start().await;
    offer_trial(&s, "pro", 14, "no_card").await;
    let tiers: Value = s.get(Uuid::now_v7(), "/api/subscriptions/tiers").await.json().await.unwrap();
    let pro = tiers["data"].as_array().unwrap().iter().find(|t| t["code"] == "pro").unwrap().clone();
    assert_eq!((pro["trial_days"].clone(), pro["trial_mode"].clone()), (json!(14), json!("no_card")));

    let user = Uuid::now_v7();
    // Whole seconds: the database keeps microseconds.
    let started_at = s.clock.now().trunc_subsecs(0);
    s.clock.set(started_at);
    let res = subscribe(&s, user, "pro").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    let sub = &created["subscription"];
    assert_eq!(sub["status"], "trialing");
    assert!(created["payment_id"].is_null() && created["client_secret"].is_null(), "{created}");
    let end = at(&sub["trial_end"]);
    assert_eq!(end, started_at + Duration::days(14));
    assert_eq!(at(&sub["current_period_end"]), end);
    let started = s.events.expect("subscriptions.subscription.trial_started.v1", StdDuration::from_secs(10)).await;
    assert_eq!(started.data["trial_mode"], "no_card");

    // Access now, nothing charged, no MRR.
    s.wait_feature(user, "certificates", true).await;
    assert!(s.fake.payment_intents().is_empty());
    assert_eq!(s.mrr_of(user).await, Decimal::ZERO);

    // The reminder: not a minute early, then exactly once.
    s.clock.set(end - Duration::days(3) - Duration::minutes(1));
    assert_eq!(published(&mut s, WILL_END, StdDuration::from_millis(1_500)).await, 0);
    s.clock.set(end - Duration::days(3));
    let will_end = s.events.expect(WILL_END, StdDuration::from_secs(10)).await;
    assert_eq!(at(&will_end.data["trial_end"]), end);
    assert_eq!(will_end.data["status"], "trialing");
    s.clock.set(end - Duration::days(1));
    assert_eq!(published(&mut s, WILL_END, StdDuration::from_millis(1_500)).await, 0, "sent once");

    // The end with no card: the first charge is refused, the subscription ends, access goes.
    s.clock.set(end + Duration::seconds(1));
    let canceled = s.events.expect("subscriptions.subscription.canceled.v1", StdDuration::from_secs(20)).await;
    assert_eq!(canceled.data["reason"], "trial_ended");
    s.wait_feature(user, "certificates", false).await;
    assert_eq!(s.me(user).await["subscription"]["status"], "canceled");
    assert!(s.fake.payment_intents().iter().all(|pi| pi["status"] != "succeeded"));
    assert_eq!(s.mrr_of(user).await, Decimal::ZERO);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_required_trial_needs_a_card_and_its_end_charges_it_with_an_invoice() {
    let mut s = Stack::start().await;
    offer_trial(&s, "pro", 7, "card_required").await;
    let user = Uuid::now_v7();

    // No saved card: refused, and nothing taken (not even the trial).
    let res = subscribe(&s, user, "pro").await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "payment_method_required");
    assert_eq!(trials_claimed(&s, user).await, Decimal::ZERO);
    assert!(s.me(user).await["subscription"].is_null());

    save_default_card(&s, user, "pm_card_visa").await;
    let res = subscribe(&s, user, "pro").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["subscription"]["status"], "trialing");
    let end = at(&created["subscription"]["trial_end"]);
    assert!(s.fake.payment_intents().is_empty(), "a trial charges nothing up front");

    // The end: charged off-session with the saved card, as a renewal; active and in MRR from then.
    s.clock.set(end + Duration::seconds(1));
    let renewed = s.events.expect("subscriptions.subscription.renewed.v1", StdDuration::from_secs(20)).await;
    assert_eq!(renewed.data["amount"]["amount"], "9.99");
    let me = s.wait_status(user, "active").await;
    assert_eq!(at(&me["subscription"]["current_period_start"]), end, "the first period starts at the trial's end");
    assert!(at(&me["subscription"]["current_period_end"]) > end + Duration::days(27));
    let charged: Vec<_> = s.fake.payment_intents().into_iter().filter(|pi| pi["status"] == "succeeded").collect();
    assert_eq!(charged.len(), 1);
    assert_eq!(charged[0]["amount"], 999);
    assert_eq!(s.mrr_of(user).await, d("9.99"));

    // Billing invoiced it.
    let invoices = s.invoices(user, 1).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["total"]["amount"], "9.99");
    let text = invoices[0].to_string();
    assert!(text.contains("first month after the trial"), "{text}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trial_per_user_and_tier_even_when_two_subscribes_race() {
    let s = Stack::start().await;
    offer_trial(&s, "pro", 14, "no_card").await;
    let user = Uuid::now_v7();
    let (a, b) = tokio::join!(subscribe(&s, user, "pro"), subscribe(&s, user, "pro"));
    let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![201, 409]);
    assert_eq!(s.me(user).await["subscription"]["status"], "trialing");
    assert_eq!(trials_claimed(&s, user).await, Decimal::ONE);

    // Ended, then subscribed again: no second trial, charged as without one.
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let res = subscribe(&s, user, "pro").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["subscription"]["status"], "incomplete");
    assert!(again["subscription"]["trial_end"].is_null());
    assert!(again["client_secret"].is_string(), "the first month is charged: {again}");
    // Another user still gets theirs.
    let other = Uuid::now_v7();
    let res = subscribe(&s, other, "pro").await;
    assert_eq!(res.json::<Value>().await.unwrap()["subscription"]["status"], "trialing");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_in_a_trial_is_not_prorated_and_a_cancel_ends_it_at_its_end_uncharged() {
    let mut s = Stack::start().await;
    offer_trial(&s, "pro", 14, "card_required").await;
    let user = Uuid::now_v7();
    save_default_card(&s, user, "pm_card_visa").await;
    let created: Value = subscribe(&s, user, "pro").await.json().await.unwrap();
    let end = at(&created["subscription"]["trial_end"]);

    let preview: Value =
        s.get(user, "/api/subscriptions/me/change/preview?tier=enterprise").await.json().await.unwrap();
    assert_eq!(preview["amount"]["amount"], "0.00");
    let res = s.post(user, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), Some("trial-up")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let changed: Value = res.json().await.unwrap();
    assert_eq!((changed["tier"].as_str(), changed["status"].as_str()), (Some("enterprise"), Some("trialing")));
    s.wait_feature(user, "analytics", true).await;
    assert!(s.fake.payment_intents().is_empty(), "no proration charge during a trial");

    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": true}), None).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let me = s.me(user).await;
    assert_eq!(me["subscription"]["status"], "trialing");
    assert_eq!(me["subscription"]["cancel_at_period_end"], true);
    // No reminder for a trial that will not convert.
    s.clock.set(end - Duration::days(2));
    assert_eq!(published(&mut s, WILL_END, StdDuration::from_millis(1_500)).await, 0);

    s.clock.set(end + Duration::seconds(1));
    let canceled = s.events.expect("subscriptions.subscription.canceled.v1", StdDuration::from_secs(20)).await;
    assert_eq!(canceled.data["reason"], "period_end");
    s.wait_feature(user, "analytics", false).await;
    assert!(s.fake.payment_intents().is_empty(), "canceled in its trial: never charged");
    assert_eq!(s.mrr_of(user).await, Decimal::ZERO);
    s.stop().await;
}
