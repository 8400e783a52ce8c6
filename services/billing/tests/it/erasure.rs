//! Erasure, billing's part: the Stripe customer is deleted through the Stripe API and the link to
//! it dropped; the payment and its receipt stay; a redelivered request changes nothing.

use crate::support::Stack;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_deletes_the_stripe_customer_keeps_the_payment_and_confirms_once() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    let payment = s.new_payment(user, "20.00").await;
    s.confirm(&payment, "pm_card_visa");
    let id = payment["id"].as_str().unwrap();
    let paid = s.wait_status(user, id, "succeeded").await;
    let customer_of = |c: &serde_json::Value| c["metadata"]["user_id"] == user.to_string();
    let customer = s.fake.customers().into_iter().find(customer_of).expect("a Stripe customer for the user");

    let confirmed = testkit::erasure::erase_and_redeliver(&s.env, "billing", user).await;
    assert_eq!(confirmed.data["user_id"], serde_json::json!(user));

    // Gone at Stripe (a retrieve answers the deleted stub), and from billing's customers.
    assert!(!s.fake.customers().iter().any(customer_of), "the Stripe customer still exists");
    let stripe = stripe::Client::new(stripe::ClientConfig::new(s.fake.base_url(), stripe_fake::DEV_API_KEY)).unwrap();
    let stub = stripe.retrieve_customer(customer["id"].as_str().unwrap()).await.unwrap();
    assert!(stub.deleted, "{stub:?}");
    let hits = testkit::erasure::leftovers(&s.env.schema("billing"), &[customer["id"].as_str().unwrap()]).await;
    assert!(hits.is_empty(), "the customer id is still linked: {hits:?}");
    // The financial record stays, unchanged but for the client secret.
    let (mut kept, mut paid) = (s.payment(user, id).await, paid);
    for view in [&mut kept, &mut paid] {
        view.as_object_mut().unwrap().remove("client_secret");
    }
    assert_eq!(kept, paid);
    s.stop().await;
}
