use stripe::{CreatePaymentIntent, IdempotencyKey, StripeError};
use stripe_fake::FakeConfig;

use crate::helpers::{client, start_fake, start_fake_with, usd};

#[tokio::test]
async fn same_key_and_params_replay_the_first_result() {
    let fake = start_fake().await;
    let client = client(&fake);
    let key = IdempotencyKey::for_operation("payment-create", "0190-replay").unwrap();
    let first = client.create_payment_intent(&usd(999), &key).await.unwrap();
    let second = client.create_payment_intent(&usd(999), &key).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.payment_intents().len(), 1);
    assert_eq!(fake.call_count("POST /v1/payment_intents"), 2);
}

#[tokio::test]
async fn replay_is_marked_with_a_header() {
    let fake = start_fake().await;
    let http = reqwest::Client::new();
    let send = || {
        http.post(format!("{}/v1/customers", fake.base_url))
            .bearer_auth(fake.api_key())
            .header("Idempotency-Key", "customer-1")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("email=a%40example.com&metadata[user]=1")
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.headers()["Idempotent-Replayed"], "true");
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn same_key_with_different_params_is_an_idempotency_error() {
    let fake = start_fake().await;
    let client = client(&fake);
    let key = IdempotencyKey::new("payment-create:0190-mismatch").unwrap();
    client.create_payment_intent(&usd(999), &key).await.unwrap();
    let err = client.create_payment_intent(&usd(1999), &key).await.unwrap_err();
    assert!(matches!(err, StripeError::Idempotency { .. }), "{err:?}");
    // The same key on another endpoint is refused too.
    let err = client.create_customer(&Default::default(), &key).await.unwrap_err();
    assert!(matches!(err, StripeError::Idempotency { .. }), "{err:?}");
    assert_eq!(fake.payment_intents().len(), 1);
}

#[tokio::test]
async fn declines_are_replayed_too() {
    let fake = start_fake().await;
    let client = client(&fake);
    let key = IdempotencyKey::new("renewal:sub-1:2025-01").unwrap();
    let params =
        CreatePaymentIntent { payment_method: Some("pm_card_chargeDeclined".into()), confirm: true, ..usd(999) };
    let first = client.create_payment_intent(&params, &key).await.unwrap_err();
    let second = client.create_payment_intent(&params, &key).await.unwrap_err();
    let id = |e: &StripeError| match e {
        StripeError::Card { payment_intent, .. } => payment_intent.as_ref().unwrap().id.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(id(&first), id(&second));
    assert_eq!(fake.payment_intents().len(), 1);
    assert_eq!(fake.events_of_type("payment_intent.payment_failed").len(), 1);
}

#[tokio::test]
async fn keys_are_scoped_per_api_key() {
    let config =
        FakeConfig { api_keys: vec!["sk_test_billing".into(), "sk_test_other".into()], ..FakeConfig::for_tests() };
    let fake = start_fake_with(config).await;
    let key = IdempotencyKey::new("shared-key").unwrap();
    let mut ids = Vec::new();
    for secret in ["sk_test_billing", "sk_test_other"] {
        let mut config = fake.client_config();
        config.secret_key = secret.into();
        let client = stripe::Client::new(config).unwrap();
        ids.push(client.create_payment_intent(&usd(999), &key).await.unwrap().id);
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(fake.payment_intents().len(), 2);
}

#[tokio::test]
async fn validation_failures_are_not_saved_under_the_key() {
    let fake = start_fake().await;
    let http = reqwest::Client::new();
    let send = |body: &'static str| {
        http.post(format!("{}/v1/payment_intents", fake.base_url))
            .bearer_auth(fake.api_key())
            .header("Idempotency-Key", "fix-and-retry")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let bad = send("amount=999").await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["code"], "parameter_missing");
    assert_eq!(bad["error"]["param"], "currency");
    let good = send("amount=999&currency=usd").await.unwrap();
    assert_eq!(good.status(), 200);
}
