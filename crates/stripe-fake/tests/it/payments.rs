use stripe::{
    CancelPaymentIntent, CancellationReason, ChargeStatus, ConfirmPaymentIntent, CreateCustomer, CreatePaymentIntent,
    PaymentIntentStatus, StripeError,
};

use crate::helpers::{client, key, start_fake, usd};

#[tokio::test]
async fn creates_and_retrieves_a_customer() {
    let fake = start_fake().await;
    let client = client(&fake);
    let params = CreateCustomer {
        email: Some("learner+1@example.com".into()),
        metadata: [("user_id".to_owned(), "0190-abc".to_owned())].into(),
        ..Default::default()
    };
    let created = client.create_customer(&params, &key("customer")).await.unwrap();
    assert!(created.id.starts_with("cus_"));
    assert_eq!(created.email.as_deref(), Some("learner+1@example.com"));
    let fetched = client.retrieve_customer(&created.id).await.unwrap();
    assert_eq!(fetched, created);
    assert_eq!(fetched.metadata["user_id"], "0190-abc");
}

#[tokio::test]
async fn visa_confirmed_by_the_client_app_succeeds_with_a_charge() {
    let fake = start_fake().await;
    let client = client(&fake);
    let customer = client.create_customer(&CreateCustomer::default(), &key("c")).await.unwrap();
    let params = CreatePaymentIntent {
        customer: Some(customer.id.clone()),
        metadata: [("payment_id".to_owned(), "p-1".to_owned())].into(),
        ..usd(999)
    };
    let pi = client.create_payment_intent(&params, &key("pi")).await.unwrap();
    assert!(pi.id.starts_with("pi_"));
    assert_eq!(pi.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert!(pi.client_secret.as_deref().unwrap().starts_with(&format!("{}_secret_", pi.id)));
    assert_eq!((pi.amount, pi.amount_received, pi.currency.as_str()), (999, 0, "usd"));
    assert_eq!(pi.customer.as_deref(), Some(customer.id.as_str()));

    fake.confirm_payment_intent(&pi.id, "pm_card_visa").unwrap();
    let pi = client.retrieve_payment_intent(&pi.id).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
    assert_eq!(pi.amount_received, 999);
    assert_eq!(pi.metadata["payment_id"], "p-1");
    let charge = client.retrieve_charge(pi.latest_charge.as_deref().unwrap()).await.unwrap();
    assert!(charge.id.starts_with("ch_"));
    assert_eq!(charge.status, ChargeStatus::Succeeded);
    assert_eq!(charge.payment_intent.as_deref(), Some(pi.id.as_str()));
    let card = charge.payment_method_details.unwrap().card.unwrap();
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
}

#[tokio::test]
async fn mastercard_confirmed_server_side() {
    let fake = start_fake().await;
    let client = client(&fake);
    let params = CreatePaymentIntent { payment_method: Some("pm_card_mastercard".into()), ..usd(2500) };
    let pi = client.create_payment_intent(&params, &key("pi")).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::RequiresConfirmation);
    let pi = client.confirm_payment_intent(&pi.id, &ConfirmPaymentIntent::default(), &key("confirm")).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
    let charge = client.retrieve_charge(pi.latest_charge.as_deref().unwrap()).await.unwrap();
    let card = charge.payment_method_details.unwrap().card.unwrap();
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("mastercard", "4444"));
}

#[tokio::test]
async fn declined_card_answers_402_and_leaves_the_intent_payable() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = client.create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    let confirm = ConfirmPaymentIntent { payment_method: Some("pm_card_chargeDeclined".into()), ..Default::default() };
    let err = client.confirm_payment_intent(&pi.id, &confirm, &key("confirm")).await.unwrap_err();
    let StripeError::Card { code, decline_code, payment_intent, .. } = err else {
        panic!("expected a card error, got {err:?}");
    };
    assert_eq!(code.as_deref(), Some("card_declined"));
    assert_eq!(decline_code.as_deref(), Some("generic_decline"));
    let failed = payment_intent.unwrap();
    assert_eq!(failed.status, PaymentIntentStatus::RequiresPaymentMethod);
    let last = failed.last_payment_error.unwrap();
    assert_eq!(last.decline_code.as_deref(), Some("generic_decline"));
    assert!(last.charge.unwrap().starts_with("ch_"));
    // Only the one API call: card errors are not retried.
    assert_eq!(fake.call_count("POST /v1/payment_intents/{id}/confirm"), 1);

    // The customer tries another card.
    let retry = ConfirmPaymentIntent { payment_method: Some("pm_card_visa".into()), ..Default::default() };
    let pi = client.confirm_payment_intent(&pi.id, &retry, &key("confirm")).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
    assert_eq!(pi.last_payment_error, None);
}

#[tokio::test]
async fn insufficient_funds_has_its_decline_code() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = client.create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    let err = fake.confirm_payment_intent(&pi.id, "pm_card_visa_chargeDeclinedInsufficientFunds").unwrap_err();
    assert_eq!(err.status, 402);
    assert_eq!(err.decline_code, Some("insufficient_funds"));
}

#[tokio::test]
async fn authentication_required_on_session_asks_for_action() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = client.create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    let confirm =
        ConfirmPaymentIntent { payment_method: Some("pm_card_authenticationRequired".into()), ..Default::default() };
    let pi = client.confirm_payment_intent(&pi.id, &confirm, &key("confirm")).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::RequiresAction);
    fake.complete_authentication(&pi.id).unwrap();
    let pi = client.retrieve_payment_intent(&pi.id).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
}

#[tokio::test]
async fn authentication_required_off_session_fails_like_stripe() {
    let fake = start_fake().await;
    let client = client(&fake);
    let renewal = CreatePaymentIntent {
        payment_method: Some("pm_card_authenticationRequired".into()),
        confirm: true,
        off_session: true,
        ..usd(999)
    };
    let err = client.create_payment_intent(&renewal, &key("renewal")).await.unwrap_err();
    match err {
        StripeError::Card { code, payment_intent, .. } => {
            assert_eq!(code.as_deref(), Some("authentication_required"));
            assert_eq!(payment_intent.unwrap().status, PaymentIntentStatus::RequiresPaymentMethod);
        }
        other => panic!("expected a card error, got {other:?}"),
    }
    // An off-session renewal with a good card succeeds in one call.
    let renewal = CreatePaymentIntent { payment_method: Some("pm_card_visa".into()), ..renewal };
    let pi = client.create_payment_intent(&renewal, &key("renewal")).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
}

#[tokio::test]
async fn cancel_and_illegal_transitions() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = client.create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    let cancel = CancelPaymentIntent { cancellation_reason: Some(CancellationReason::RequestedByCustomer) };
    let canceled = client.cancel_payment_intent(&pi.id, &cancel, &key("cancel")).await.unwrap();
    assert_eq!(canceled.status, PaymentIntentStatus::Canceled);
    assert_eq!(canceled.cancellation_reason.as_deref(), Some("requested_by_customer"));

    let again = client.cancel_payment_intent(&pi.id, &cancel, &key("cancel")).await.unwrap_err();
    assert!(matches!(&again, StripeError::InvalidRequest { status: 400, .. }), "{again:?}");
    assert_eq!(again.code(), Some("payment_intent_unexpected_state"));
    let confirm = ConfirmPaymentIntent { payment_method: Some("pm_card_visa".into()), ..Default::default() };
    let err = client.confirm_payment_intent(&pi.id, &confirm, &key("confirm")).await.unwrap_err();
    assert_eq!(err.code(), Some("payment_intent_unexpected_state"));

    // A succeeded intent can be neither canceled nor confirmed again.
    let paid = crate::helpers::paid_intent(&fake, &client, 500).await;
    let err = client.cancel_payment_intent(&paid.id, &cancel, &key("cancel")).await.unwrap_err();
    assert_eq!(err.code(), Some("payment_intent_unexpected_state"));
    assert!(fake.confirm_payment_intent(&paid.id, "pm_card_visa").is_err());
}

#[tokio::test]
async fn missing_objects_are_404_resource_missing() {
    let fake = start_fake().await;
    let client = client(&fake);
    for err in [
        client.retrieve_payment_intent("pi_doesnotexist").await.unwrap_err(),
        client.retrieve_customer("cus_doesnotexist").await.unwrap_err(),
        client.retrieve_refund("re_doesnotexist").await.unwrap_err(),
        client.retrieve_charge("ch_doesnotexist").await.unwrap_err(),
    ] {
        assert!(err.is_not_found(), "{err:?}");
        assert!(matches!(err, StripeError::InvalidRequest { status: 404, .. }));
    }
    // Naming a missing object in a parameter is a 400, as on Stripe.
    let params = CreatePaymentIntent { customer: Some("cus_missing".into()), ..usd(100) };
    let err = client.create_payment_intent(&params, &key("pi")).await.unwrap_err();
    assert!(matches!(&err, StripeError::InvalidRequest { status: 400, param: Some(p), .. } if p == "customer"));
    let params = CreatePaymentIntent { payment_method: Some("pm_card_unknown".into()), ..usd(100) };
    let err = client.create_payment_intent(&params, &key("pi")).await.unwrap_err();
    assert_eq!(err.code(), Some("resource_missing"));
}

#[tokio::test]
async fn wrong_api_key_is_an_authentication_error() {
    let fake = start_fake().await;
    let mut config = fake.client_config();
    config.secret_key = "sk_test_wrong".into();
    let client = stripe::Client::new(config).unwrap();
    let err = client.create_payment_intent(&usd(100), &key("pi")).await.unwrap_err();
    assert!(matches!(err, StripeError::Authentication { .. }), "{err:?}");
    // Not retried, and nothing created.
    assert_eq!(fake.call_count("POST /v1/payment_intents"), 1);
    assert!(fake.payment_intents().is_empty());
}

#[tokio::test]
async fn a_deleted_customer_is_a_stub_cannot_pay_and_cannot_be_deleted_twice() {
    let (fake, receiver) = crate::helpers::fake_with_receiver().await;
    let client = client(&fake);
    let params = CreateCustomer { name: Some("Ada Lovelace".into()), ..Default::default() };
    let customer = client.create_customer(&params, &key("c")).await.unwrap();
    let deleted = client.delete_customer(&customer.id).await.unwrap();
    assert_eq!((deleted.id.as_str(), deleted.deleted), (customer.id.as_str(), true));
    // Stripe keeps answering a retrieve with a stub that names no one.
    let fetched = client.retrieve_customer(&customer.id).await.unwrap();
    assert!(fetched.deleted && fetched.name.is_none() && fetched.email.is_none(), "{fetched:?}");
    let event = receiver.next_event(fake.webhook_secret()).await;
    assert_eq!(event.type_, "customer.deleted");
    let again = client.delete_customer(&customer.id).await.unwrap_err();
    assert!(again.is_not_found(), "{again:?}");
    let params = CreatePaymentIntent { customer: Some(customer.id.clone()), ..usd(100) };
    let err = client.create_payment_intent(&params, &key("pi")).await.unwrap_err();
    assert!(matches!(&err, StripeError::InvalidRequest { status: 400, param: Some(p), .. } if p == "customer"));
}
