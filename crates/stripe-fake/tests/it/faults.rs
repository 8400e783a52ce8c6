use std::time::Duration;

use stripe::{IdempotencyKey, StripeError};

use crate::helpers::{client, start_fake, usd};

#[tokio::test]
async fn injected_500_is_retried_with_the_same_key_and_creates_one_intent() {
    let fake = start_fake().await;
    let client = client(&fake);
    fake.fail_next(1, 500);
    let key = IdempotencyKey::for_operation("payment-create", "0190-500").unwrap();
    let pi = client.create_payment_intent(&usd(999), &key).await.unwrap();
    assert_eq!(fake.call_count("POST /v1/payment_intents"), 2);
    let stored = fake.payment_intents();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], pi.id.as_str());
}

#[tokio::test]
async fn persistent_failure_gives_up_after_the_retry_budget() {
    let fake = start_fake().await;
    let client = client(&fake);
    fake.fail_next(10, 503);
    let err = client.create_payment_intent(&usd(999), &crate::helpers::key("pi")).await.unwrap_err();
    assert!(matches!(err, StripeError::Api { status: 503, .. }), "{err:?}");
    // The first attempt and two retries.
    assert_eq!(fake.call_count("POST /v1/payment_intents"), 3);
    assert!(fake.payment_intents().is_empty());
}

#[tokio::test]
async fn rate_limit_is_retried() {
    let fake = start_fake().await;
    let client = client(&fake);
    fake.fail_next(2, 429);
    let pi = client.retrieve_payment_intent("pi_missing").await.unwrap_err();
    assert!(pi.is_not_found());
    assert_eq!(fake.call_count("GET /v1/payment_intents/{id}"), 3);
}

#[tokio::test]
async fn a_lost_response_is_retried_and_replayed_not_duplicated() {
    let fake = start_fake().await;
    let mut config = fake.client_config();
    config.timeout = Duration::from_millis(300);
    let client = stripe::Client::new(config).unwrap();
    // The fake creates the intent but answers after the client gave up, like a response lost on the way back.
    fake.delay_next(1, Duration::from_millis(1500));
    let key = IdempotencyKey::for_operation("payment-create", "0190-timeout").unwrap();
    let pi = client.create_payment_intent(&usd(999), &key).await.unwrap();
    assert_eq!(fake.call_count("POST /v1/payment_intents"), 2);
    let stored = fake.payment_intents();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"], pi.id.as_str());
}

#[tokio::test]
async fn timeouts_surface_once_retries_are_exhausted() {
    let fake = start_fake().await;
    let mut config = fake.client_config();
    config.timeout = Duration::from_millis(200);
    config.retry.max_retries = 1;
    let client = stripe::Client::new(config).unwrap();
    fake.delay_next(2, Duration::from_millis(800));
    let err = client.create_customer(&Default::default(), &crate::helpers::key("c")).await.unwrap_err();
    assert!(matches!(err, StripeError::Timeout), "{err:?}");
    assert_eq!(fake.call_count("POST /v1/customers"), 2);
    // Both attempts carried the same key, so the work was done once.
    assert_eq!(fake.customers().len(), 1);
}

#[tokio::test]
async fn unreachable_stripe_is_a_network_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = stripe::ClientConfig::new(format!("http://127.0.0.1:{port}"), "sk_test_x");
    config.retry.initial_backoff = Duration::from_millis(5);
    let client = stripe::Client::new(config).unwrap();
    let err = client.retrieve_customer("cus_1").await.unwrap_err();
    assert!(matches!(err, StripeError::Network(_)), "{err:?}");
    assert!(err.is_retryable());
}
