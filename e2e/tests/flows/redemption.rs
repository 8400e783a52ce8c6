//! Flow 5: tokens redeemed for a month of Pro.

use crate::support::{Platform, User};
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_redemption_of_pro_month_to_pro_features() {
    let p = Platform::start().await;
    let admin = User::admin();
    let learner = User::learner();
    let catalog = p.get(Some(&learner), "/api/tokens/catalog").await;
    assert_eq!(catalog.status, 200, "{}", catalog.body);
    let cost = catalog.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|i| i["item"] == "pro_month")
        .and_then(|i| i["cost"].as_i64())
        .expect("pro_month is on the catalogue");

    // Not enough tokens yet.
    let early = p.post_key(&learner, "/api/tokens/redeem", json!({"item": "pro_month"}), "too-early").await;
    assert_eq!(early.status, 409, "{}", early.body);
    assert_eq!(early.body["code"], "insufficient_tokens");

    let award = json!({"user_id": learner.id, "amount": cost, "reason": "e2e: a month of Pro"});
    assert_eq!(p.post_key(&learner, "/api/tokens/award", award.clone(), "self-award").await.status, 403);
    let key = Uuid::new_v4().to_string();
    let awarded = p.post_key(&admin, "/api/tokens/award", award.clone(), &key).await;
    assert_eq!(awarded.status, 201, "{}", awarded.body);
    let replay = p.post_key(&admin, "/api/tokens/award", award, &key).await;
    assert_eq!(replay.body["transaction_id"], awarded.body["transaction_id"], "awarded once");
    assert_eq!(p.balance(&learner).await, cost);
    assert_eq!(p.feature(&learner, "certificates").await["allowed"], false);

    let redeemed =
        p.post_key(&learner, "/api/tokens/redeem", json!({"item": "pro_month"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    assert_eq!(redeemed.body["balance_after"], 0);

    let f = p.wait_feature(&learner, "certificates", true).await;
    assert_eq!(f["source"], "reward", "{f}");
    assert_eq!(f["tier"], "pro", "{f}");
    assert_eq!(p.balance(&learner).await, 0);

    let a = p.events.wait_for("rewards.tokens.awarded.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(a.data["kind"], "award");
    let r = p.events.wait_for("rewards.tokens.redeemed.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(r.data["item"], "pro_month");
    assert_eq!(r.data["cost"], cost);
    p.stop().await;
}
