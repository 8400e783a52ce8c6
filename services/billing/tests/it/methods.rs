//! Saved cards: a SetupIntent through billing, the card recorded from `setup_intent.succeeded`,
//! the default renewals charge, removal rules, and that nobody touches another user's cards.

use crate::support::Stack;
use events::catalog::billing::PaymentPurpose;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

fn token(user: Uuid) -> String {
    testkit::internal_token("billing", &user.to_string(), &[Role::Learner])
}

async fn setup(s: &Stack, user: Uuid, key: &str, body: Value) -> reqwest::Response {
    s.http
        .post(s.url("/api/payments/methods/setup"))
        .header("x-internal-token", token(user))
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn methods(s: &Stack, user: Uuid) -> Vec<Value> {
    let res = s.get_as(user, &[Role::Learner], "/api/payments/methods").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

/// Saves `card` through a SetupIntent as the app would; returns the listed card once recorded.
async fn save_card(s: &Stack, user: Uuid, card: &str, make_default: bool) -> Value {
    let res = setup(s, user, &Uuid::new_v4().to_string(), json!({ "make_default": make_default })).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let answer: Value = res.json().await.unwrap();
    let seti = answer["setup_intent_id"].as_str().unwrap().to_string();
    let before = methods(s, user).await.len();
    s.fake.confirm_setup_intent(&seti, card).unwrap();
    testkit::eventually("the saved card to be listed", Duration::from_secs(10), || async {
        let now = methods(s, user).await;
        (now.len() > before).then(|| now[0].clone())
    })
    .await
}

async fn delete(s: &Stack, user: Uuid, id: &str, query: &str) -> reqwest::Response {
    s.http
        .delete(s.url(&format!("/api/payments/methods/{id}{query}")))
        .header("x-internal-token", token(user))
        .send()
        .await
        .unwrap()
}

async fn make_default(s: &Stack, user: Uuid, id: &str) -> reqwest::Response {
    s.http
        .post(s.url(&format!("/api/payments/methods/{id}/default")))
        .header("x-internal-token", token(user))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_are_saved_listed_made_default_charged_and_removed() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    // The setup is idempotent: the same key replays the same SetupIntent.
    let first = setup(&s, user, "setup-1", json!({})).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again: Value = setup(&s, user, "setup-1", json!({})).await.json().await.unwrap();
    assert_eq!(first, again);
    assert!(first["client_secret"].as_str().unwrap().starts_with(first["setup_intent_id"].as_str().unwrap()));
    assert_eq!(setup(&s, user, "setup-1", json!({"make_default": false})).await.status(), 422);
    assert_eq!(s.fake.call_count("POST /v1/setup_intents"), 1);
    assert_eq!(setup(&s, user, "setup-x", json!({"surprise": 1})).await.status(), 422, "unknown fields are refused");

    s.fake.confirm_setup_intent(first["setup_intent_id"].as_str().unwrap(), "pm_card_visa").unwrap();
    let visa =
        testkit::eventually("the card", Duration::from_secs(10), || async { methods(&s, user).await.first().cloned() })
            .await;
    assert_eq!(
        (visa["brand"].as_str(), visa["last4"].as_str(), visa["default"].as_bool()),
        (Some("visa"), Some("4242"), Some(true))
    );
    assert_eq!(visa["exp_year"], 2034);
    let changed = s.events.expect("billing.payment_method.default_changed.v1", Duration::from_secs(10)).await;
    testkit::schema::assert_valid_event(&serde_json::to_value(&changed).unwrap());
    assert_eq!(changed.data["payment_method_id"], visa["id"]);
    // A redelivered notification records nothing twice.
    let evt = s.fake.events_of_type("setup_intent.succeeded")[0]["id"].as_str().unwrap().to_string();
    s.fake.duplicate_event(&evt).unwrap();

    // A second card, not the default; then chosen as the default.
    let master = save_card(&s, user, "pm_card_mastercard", false).await;
    assert_eq!((master["last4"].as_str(), master["default"].as_bool()), (Some("4444"), Some(false)));
    assert_eq!(methods(&s, user).await.len(), 2);
    let res = make_default(&s, user, master["id"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    let changed = s.events.expect("billing.payment_method.default_changed.v1", Duration::from_secs(10)).await;
    assert_eq!(changed.data["last4"], "4444");
    // Choosing it again changes nothing and announces nothing.
    assert_eq!(make_default(&s, user, master["id"].as_str().unwrap()).await.status(), 200);
    assert!(s.events.drain(Duration::from_millis(800)).await.is_empty());
    let stripe_customer = &s.fake.customers()[0];
    assert!(stripe_customer["invoice_settings"]["default_payment_method"].as_str().unwrap().starts_with("pm_"));

    // A renewal charges the default card off-session.
    let res = s.create_payment_for(user, "9.99", "renewal-1", PaymentPurpose::Subscription, true).await;
    assert_eq!(res.status(), 201);
    let paid: Value = res.json().await.unwrap();
    assert_eq!(paid["status"], "succeeded");
    let charges = s.fake.charges();
    assert_eq!(charges.last().unwrap()["payment_method_details"]["card"]["last4"], "4444");
    s.events.drain(Duration::from_millis(500)).await;

    // The default card cannot go while another exists; the other can.
    let res = delete(&s, user, master["id"].as_str().unwrap(), "").await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "payment_method_is_default");
    assert_eq!(delete(&s, user, visa["id"].as_str().unwrap(), "").await.status(), 204);
    // The last card only on purpose.
    let res = delete(&s, user, master["id"].as_str().unwrap(), "").await;
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "last_payment_method");
    assert_eq!(delete(&s, user, master["id"].as_str().unwrap(), "?allow_no_default=true").await.status(), 204);
    assert!(methods(&s, user).await.is_empty());
    let cleared = s.events.expect("billing.payment_method.default_changed.v1", Duration::from_secs(10)).await;
    assert_eq!(cleared.data["payment_method_id"], Value::Null);
    assert!(s.fake.payment_methods().iter().all(|m| m["customer"].is_null()), "detached at Stripe");
    let res = s.create_payment_for(user, "9.99", "renewal-2", PaymentPurpose::Subscription, true).await;
    assert_eq!(res.status(), 409, "no card left to charge");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_never_sees_or_changes_another_users_cards() {
    let s = Stack::start().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let card = save_card(&s, alice, "pm_card_visa", true).await;
    save_card(&s, bob, "pm_card_mastercard", true).await;
    let id = card["id"].as_str().unwrap();

    let bobs = methods(&s, bob).await;
    assert_eq!(bobs.len(), 1);
    assert_ne!(bobs[0]["id"], card["id"]);
    for query in ["", "?allow_no_default=true"] {
        let res = delete(&s, bob, id, query).await;
        assert_eq!(res.status(), 404, "bob detaching alice's card");
    }
    assert_eq!(make_default(&s, bob, id).await.status(), 404);
    assert_eq!(methods(&s, alice).await[0]["id"], card["id"]);
    assert_eq!(s.fake.call_count("POST /v1/payment_methods/{id}/detach"), 0);
    assert_eq!(methods(&s, bob).await[0]["default"], true, "bob's default untouched");
    s.stop().await;
}
