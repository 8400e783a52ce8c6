//! Erasure, subscriptions' part: nothing personal is stored, so the subscription (a financial
//! record) stays, but never renews again (billing deletes the Stripe customer): it keeps its paid
//! period and is canceled at its end; the user's stored idempotent responses go (`scrub_shared`);
//! the service confirms once however often the request is delivered.

use crate::support::Stack;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_keeps_the_subscription_drops_stored_responses_and_confirms_once() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    let before = s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    let schema = s.env.schema("subscriptions");
    let stored = |hits: Vec<platform::erasure::Hit>| hits.into_iter().filter(|h| h.table == "idempotency_keys").count();
    assert!(
        stored(testkit::erasure::leftovers(&schema, &[&user.to_string()]).await) > 0,
        "the subscribe call was stored"
    );

    let confirmed = testkit::erasure::erase_and_redeliver(&s.env, "subscriptions", user).await;
    assert_eq!(confirmed.data["user_id"], serde_json::json!(user));

    assert_eq!(stored(testkit::erasure::leftovers(&schema, &[&user.to_string()]).await), 0);
    let after = s.me(user).await;
    let (b, a) = (&before["subscription"], &after["subscription"]);
    assert_eq!(a["id"], b["id"], "the subscription stays");
    assert_eq!(a["status"], b["status"], "the paid period is kept");
    assert_eq!(a["current_period_end"], b["current_period_end"]);
    assert_eq!(b["cancel_at_period_end"], serde_json::json!(false));
    assert_eq!(a["cancel_at_period_end"], serde_json::json!(true), "an erased user's subscription never renews");
    s.stop().await;
}
