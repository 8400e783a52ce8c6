use std::sync::{Arc, Mutex};
use std::time::Duration;

use stripe::{
    ClientConfig, ConfirmPaymentIntent, CreateCustomer, CreatePaymentIntent, IdempotencyKey, PaymentIntentStatus,
    StripeError,
};

use crate::script::{reply, Script};

const INTENT: &str = r#"{"id":"pi_1","object":"payment_intent","amount":999,"amount_received":0,"currency":"usd",
    "status":"requires_payment_method","metadata":{"payment_id":"p-1"}}"#;

fn key(id: &str) -> IdempotencyKey {
    IdempotencyKey::for_operation("payment-create", id).unwrap()
}

fn usd(amount: i64) -> CreatePaymentIntent {
    let metadata = [("payment_id".to_owned(), "p-1".to_owned())].into();
    CreatePaymentIntent { amount, currency: "usd".into(), metadata, ..Default::default() }
}

/// Every call the observer hears: (operation, outcome).
type Calls = Arc<Mutex<Vec<(String, String)>>>;

fn observed(script: &Script) -> (stripe::Client, Calls) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = calls.clone();
    let client = script.client().with_observer(Arc::new(move |op: &str, outcome: &str, _took: Duration| {
        sink.lock().unwrap().push((op.to_owned(), outcome.to_owned()));
    }));
    (client, calls)
}

#[tokio::test]
async fn a_post_carries_the_secret_the_pinned_version_the_idempotency_key_and_a_form_body() {
    let script = Script::start();
    script.queue(reply(200, INTENT));
    let pi = script.client().create_payment_intent(&usd(999), &key("p-1")).await.unwrap();
    assert_eq!((pi.id.as_str(), pi.status), ("pi_1", PaymentIntentStatus::RequiresPaymentMethod));

    let [request] = script.requests().try_into().unwrap();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/payment_intents"));
    assert_eq!(request.header("authorization"), Some("Bearer sk_test_scripted"));
    assert_eq!(request.header("stripe-version"), Some(stripe::DEFAULT_STRIPE_VERSION));
    assert_eq!(request.header("idempotency-key"), Some("payment-create:p-1"));
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert!(request.header("user-agent").is_some_and(|ua| ua.starts_with("monetization-stripe/")), "{request:?}");
    // Brackets stay as they are, as Stripe's own libraries send them.
    assert_eq!(request.body, "amount=999&currency=usd&metadata[payment_id]=p-1");
}

#[tokio::test]
async fn reads_and_deletes_carry_no_idempotency_key_and_no_body() {
    let script = Script::start();
    script.queue(reply(200, INTENT)).queue(reply(200, r#"{"id":"cus_1","object":"customer","deleted":true}"#)).queue(
        reply(
            200,
            r#"{"id":"pm_1","object":"payment_method","type":"card","customer":"cus_1","created":1,
            "card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"funding":"credit"}}"#,
        ),
    );
    let client = script.client();
    client.retrieve_payment_intent("pi_1").await.unwrap();
    let deleted = client.delete_customer("cus_1").await.unwrap();
    assert!(deleted.deleted);
    let pm = client.retrieve_payment_method("pm_1").await.unwrap();
    let card = pm.card.expect("a card's payment method describes the card");
    assert_eq!((card.brand.as_str(), card.last4.as_str(), card.exp_year), ("visa", "4242", 2030));

    let seen: Vec<(String, String)> = script.requests().into_iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(
        seen,
        [
            ("GET".to_owned(), "/v1/payment_intents/pi_1".to_owned()),
            ("DELETE".to_owned(), "/v1/customers/cus_1".to_owned()),
            ("GET".to_owned(), "/v1/payment_methods/pm_1".to_owned()),
        ]
    );
    for request in script.requests() {
        assert_eq!(request.header("idempotency-key"), None, "{request:?}");
        assert_eq!(request.body, "", "{request:?}");
    }
}

#[tokio::test]
async fn a_retry_sends_the_same_bytes_under_the_same_key_and_the_observer_hears_one_call() {
    let script = Script::start();
    script
        .queue(reply(500, r#"{"error":{"type":"api_error","message":"try again"}}"#))
        .queue(reply(429, r#"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"slow"}}"#))
        .queue(reply(200, INTENT));
    let (client, calls) = observed(&script);
    client.create_payment_intent(&usd(999), &key("p-2")).await.unwrap();

    let requests = script.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests[1..] {
        assert_eq!(r.body, requests[0].body);
        assert_eq!(r.header("idempotency-key"), Some("payment-create:p-2"));
    }
    assert_eq!(*calls.lock().unwrap(), [("POST payment_intents".to_owned(), "ok".to_owned())]);
}

/// Stripe's `Stripe-Should-Retry` overrides the client's own guess either way: a 409 lock timeout
/// (an invalid-request error, not retried by its kind) is sent again when Stripe says so, and a
/// 500 is not when Stripe says the request was final.
#[tokio::test]
async fn stripe_should_retry_decides_over_the_kind_of_failure() {
    let script = Script::start();
    let lock_timeout = r#"{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"busy"}}"#;
    script.queue(reply(409, lock_timeout).with_header("Stripe-Should-Retry", "true")).queue(reply(200, INTENT));
    let confirm = ConfirmPaymentIntent { payment_method: Some("pm_card_visa".into()), off_session: false };
    let pi = script.client().confirm_payment_intent("pi_1", &confirm, &key("c-1")).await.unwrap();
    assert_eq!(pi.id, "pi_1");
    assert_eq!(script.requests().len(), 2, "retried because Stripe said so");

    let script = Script::start();
    script.queue(reply(409, lock_timeout));
    let err = script.client().confirm_payment_intent("pi_1", &confirm, &key("c-2")).await.unwrap_err();
    assert!(matches!(err, StripeError::InvalidRequest { status: 409, .. }), "{err:?}");
    assert_eq!(err.code(), Some("lock_timeout"));
    assert_eq!(script.requests().len(), 1, "without the header a 409 invalid request is final");

    let script = Script::start();
    script.queue(
        reply(500, r#"{"error":{"type":"api_error","message":"final"}}"#).with_header("Stripe-Should-Retry", "false"),
    );
    let (client, calls) = observed(&script);
    let err = client.create_payment_intent(&usd(999), &key("p-3")).await.unwrap_err();
    assert!(matches!(err, StripeError::Api { status: 500, .. }), "{err:?}");
    assert_eq!(script.requests().len(), 1, "not retried because Stripe said not to");
    assert_eq!(*calls.lock().unwrap(), [("POST payment_intents".to_owned(), "api_error".to_owned())]);
}

#[tokio::test]
async fn a_decline_is_final_and_carries_the_intent_as_stripe_left_it() {
    let script = Script::start();
    script.queue(reply(
        402,
        r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
        "message":"Your card has insufficient funds.","payment_intent":{"id":"pi_1","object":"payment_intent",
        "amount":999,"amount_received":0,"currency":"usd","status":"requires_payment_method","metadata":{},
        "last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}}}}"#,
    ));
    let (client, calls) = observed(&script);
    let confirm = ConfirmPaymentIntent { payment_method: Some("pm_card_chargeDeclined".into()), off_session: true };
    let err = client.confirm_payment_intent("pi_1", &confirm, &key("c-3")).await.unwrap_err();
    let StripeError::Card { decline_code, payment_intent: Some(pi), .. } = &err else { panic!("{err:?}") };
    assert_eq!(decline_code.as_deref(), Some("insufficient_funds"));
    let last = pi.last_payment_error.as_ref().expect("the failed attempt");
    assert_eq!(last.decline_code.as_deref(), Some("insufficient_funds"));
    assert!(!err.is_retryable());
    let [request] = script.requests().try_into().unwrap();
    assert_eq!(request.path, "/v1/payment_intents/pi_1/confirm");
    assert_eq!(request.body, "payment_method=pm_card_chargeDeclined&off_session=true");
    assert_eq!(*calls.lock().unwrap(), [("POST payment_intents/{id}/confirm".to_owned(), "card_error".to_owned())]);
}

/// A 2xx the client cannot read is reported as such, and not sent again: the request succeeded,
/// and a retry would only get the same replayed body.
#[tokio::test]
async fn a_success_whose_body_is_not_the_object_is_a_decode_error_sent_once() {
    for body in ["<html>maintenance</html>", r#"{"id":"pi_1","object":"payment_intent"}"#] {
        let script = Script::start();
        script.queue(reply(200, body));
        let (client, calls) = observed(&script);
        let err = client.retrieve_payment_intent("pi_1").await.unwrap_err();
        assert!(matches!(err, StripeError::Decode(_)), "{body}: {err:?}");
        assert!(!err.is_retryable());
        assert_eq!(script.requests().len(), 1, "{body}");
        assert_eq!(*calls.lock().unwrap(), [("GET payment_intents/{id}".to_owned(), "decode_error".to_owned())]);
    }
}

#[tokio::test]
async fn a_revoked_key_and_an_idempotency_conflict_are_final() {
    let script = Script::start();
    script
        .queue(reply(401, r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}"#))
        .queue(reply(400, r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests..."}}"#));
    let client = script.client();
    let err = client.create_customer(&CreateCustomer::default(), &key("cus-1")).await.unwrap_err();
    assert!(matches!(err, StripeError::Authentication { .. }), "{err:?}");
    assert_eq!(err.outcome(), "authentication_error");
    let err = client.create_payment_intent(&usd(1000), &key("p-1")).await.unwrap_err();
    assert!(matches!(err, StripeError::Idempotency { .. }), "{err:?}");
    assert_eq!(err.outcome(), "idempotency_error");
    assert_eq!(script.requests().len(), 2, "neither was sent again");
}

/// Malformed ids and parameters are refused before anything is sent: an id is a path segment.
#[tokio::test]
async fn bad_ids_and_parameters_are_refused_without_a_request() {
    let script = Script::start();
    let client = script.client();
    let errors = [
        client.retrieve_payment_method("pm_1/../../customers").await.unwrap_err(),
        client.list_payment_methods("cus 1").await.unwrap_err(),
        client.set_default_payment_method("cus_1", Some("pm_1?x=y"), &key("d-1")).await.unwrap_err(),
        client.attach_payment_method("pm_1", "", &key("a-1")).await.unwrap_err(),
        client.detach_payment_method("", &key("d-2")).await.unwrap_err(),
        client.delete_customer("cus_1/sources").await.unwrap_err(),
        client.create_payment_intent(&usd(0), &key("p-0")).await.unwrap_err(),
        client
            .create_payment_intent(&CreatePaymentIntent { currency: "us$".into(), ..usd(1) }, &key("p-4"))
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        assert!(matches!(err, StripeError::InvalidArgument(_)), "{err:?}");
        assert_eq!(err.outcome(), "invalid_argument");
    }
    assert!(script.requests().is_empty());
}

#[test]
fn a_secret_or_version_that_cannot_be_a_header_is_refused_at_construction() {
    let err = stripe::Client::new(ClientConfig::new("https://api.stripe.com", "sk_test_\nInjected: 1")).unwrap_err();
    assert!(matches!(err, StripeError::InvalidArgument(_)), "{err:?}");
    assert!(!err.to_string().contains("Injected"), "the key stays out of the message: {err}");
    let mut config = ClientConfig::new("https://api.stripe.com", "sk_test_x");
    config.stripe_version = "2024-06-20\r\nX: y".into();
    assert!(matches!(stripe::Client::new(config), Err(StripeError::InvalidArgument(_))));
}
