//! Issue 20, point 1, through the gateway: an operator gives Pro a 14-day trial that needs a saved
//! card; a learner without one is refused, saves a card (billing's SetupIntent, stripe-fake), and
//! starts the trial with access and no charge; `trial_will_end` three days before the end; at the
//! end (clock advanced) billing charges the saved card off-session, with an invoice, and the
//! subscription is active. A second trial of the tier is never given.

use crate::payment_methods::save_card;
use crate::subscription::me;
use crate::support::{str_of, Platform, User};
use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

/// Trials are data: what an operator runs.
async fn offer_trial(p: &Platform, tier: &str, days: i32, mode: &str) {
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.expect("database");
    let schema = p.env.schema("subscriptions");
    let sql = format!("UPDATE \"{schema}\".tiers SET trial_days = {days}, trial_mode = '{mode}' WHERE code = '{tier}'");
    diesel::sql_query(sql).execute(&mut conn).await.expect("the tier's trial");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_required_trial_gives_access_reminds_and_is_charged_at_its_end() {
    let p = Platform::start().await;
    offer_trial(&p, "pro", 14, "card_required").await;
    let tiers = p.get(None, "/api/subscriptions/tiers").await;
    let pro = tiers.body["data"].as_array().expect("tiers").iter().find(|t| t["code"] == "pro").cloned().expect("pro");
    assert_eq!((pro["trial_days"].as_i64(), pro["trial_mode"].as_str()), (Some(14), Some("card_required")));

    let learner = User::learner();
    let refused = p.post_key(&learner, "/api/subscriptions", json!({"tier": "pro"}), "trial-1").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["code"], "payment_method_required");

    save_card(&p, &learner, "pm_card_visa").await;
    p.eventually("the default card", || async {
        let cards = p.get(Some(&learner), "/api/payments/methods").await;
        cards.body["data"].as_array().is_some_and(|c| c.iter().any(|c| c["default"] == true)).then_some(())
    })
    .await;
    let res = p.post_key(&learner, "/api/subscriptions", json!({"tier": "pro"}), "trial-2").await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["subscription"]["status"], "trialing");
    assert!(res.body["client_secret"].is_null(), "nothing to pay up front: {}", res.body);
    let sub = str_of(&res.body["subscription"]["id"]);
    let end: DateTime<Utc> = str_of(&res.body["subscription"]["trial_end"]).parse().expect("trial_end");
    p.wait_feature(&learner, "certificates", true).await;

    p.subscriptions_clock.set(end - Duration::days(3));
    let reminder = p
        .events
        .wait_for("subscriptions.subscription.trial_will_end.v1", |d| d["subscription_id"] == sub.as_str())
        .await;
    assert_eq!(reminder.data["trial_end"].as_str().map(|t| t.parse::<DateTime<Utc>>().ok()), Some(Some(end)));

    p.subscriptions_clock.set(end + Duration::seconds(1));
    let paid = p.events.wait_for("billing.payment.succeeded.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(paid.data["amount"]["amount"], "9.99", "{}", paid.data);
    let m = p
        .eventually("active after the trial", || async {
            let m = me(&p, &learner).await;
            (m["subscription"]["status"] == "active").then_some(m)
        })
        .await;
    assert_eq!(str_of(&m["subscription"]["current_period_start"]).parse::<DateTime<Utc>>().ok(), Some(end));
    let invoices = p
        .eventually("the invoice", || async {
            let page = p.get(Some(&learner), "/api/payments/invoices").await;
            page.body["data"].as_array().filter(|d| !d.is_empty()).cloned()
        })
        .await;
    assert_eq!(invoices[0]["total"]["amount"], "9.99");
    let reminders =
        p.events.distinct("subscriptions.subscription.trial_will_end.v1", |d| d["subscription_id"] == sub.as_str());
    assert_eq!(reminders.len(), 1, "the reminder goes once per trial");

    // Ended and back: the trial is spent, the first month is charged now.
    let res = p.post(&learner, "/api/subscriptions/me/cancel", json!({"at_period_end": false})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let again = p.post_key(&learner, "/api/subscriptions", json!({"tier": "pro"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["subscription"]["status"], "incomplete");
    assert!(again.body["client_secret"].is_string());
    p.stop().await;
}
