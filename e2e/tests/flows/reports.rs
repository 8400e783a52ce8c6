//! Issue 19: the admin reports through the gateway, as JSON and as CSV, after a subscription is
//! paid: subscriptions reports its MRR, billing the payment.

use crate::support::{intent_of, Platform, User};
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

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

    let today = Utc::now().date_naive();
    let range = format!("from={}&to={}&interval=day", today, today + Duration::days(2));
    let admin = User::admin();
    let subs = p.get(Some(&admin), &format!("/api/admin/reports/subscriptions?{range}")).await;
    assert_eq!(subs.status, 200, "{}", subs.body);
    let first = &subs.body["data"][0];
    assert_eq!((first["currency"].as_str(), first["new_mrr"].as_str()), (Some("USD"), Some("9.99")), "{}", subs.body);
    assert_eq!(first["subscribers"]["pro"]["active"], 1);
    let pays = p.get(Some(&admin), &format!("/api/admin/reports/payments?{range}")).await;
    assert_eq!(pays.status, 200, "{}", pays.body);
    assert_eq!(pays.body["data"][0]["succeeded"], 1, "{}", pays.body);
    assert_eq!(pays.body["data"][0]["revenue_by_purpose"]["subscription"]["gross"], "9.99");

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
}
