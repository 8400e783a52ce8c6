//! SetupIntents, PaymentMethods and the customer's default method, through the `stripe` client.

use stripe::{
    CreateCustomer, CreatePaymentIntent, CreateSetupIntent, EventType, PaymentIntentStatus, SetupIntentStatus,
    SetupUsage, StripeError,
};

use crate::helpers::{client, fake_with_receiver, key, start_fake, usd};

fn setup_for(customer: &str) -> CreateSetupIntent {
    CreateSetupIntent {
        customer: customer.to_owned(),
        usage: SetupUsage::OffSession,
        metadata: [("user_id".to_string(), "u1".to_string())].into_iter().collect(),
    }
}

#[tokio::test]
async fn a_confirmed_setup_saves_a_card_the_customer_can_be_charged_with_off_session() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    let customer = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let si = client.create_setup_intent(&setup_for(&customer.id), &key("si")).await.unwrap();
    assert_eq!(si.status, SetupIntentStatus::RequiresPaymentMethod);
    assert!(si.client_secret.as_deref().unwrap().starts_with(&format!("{}_secret_", si.id)));
    assert_eq!(si.usage.as_deref(), Some("off_session"));
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.type_, "setup_intent.created");

    fake.confirm_setup_intent(&si.id, "pm_card_mastercard").unwrap();
    let si = client.retrieve_setup_intent(&si.id).await.unwrap();
    assert_eq!(si.status, SetupIntentStatus::Succeeded);
    let pm = si.payment_method.clone().unwrap();
    assert!(pm.starts_with("pm_") && pm != "pm_card_mastercard", "a PaymentMethod of its own: {pm}");
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.type_, "payment_method.attached");
    let event = receiver.next_event(fake.webhook_secret()).await;
    assert_eq!(event.kind(), EventType::SetupIntentSucceeded);
    assert_eq!(event.setup_intent().unwrap().payment_method.as_deref(), Some(pm.as_str()));

    let listed = client.list_payment_methods(&customer.id).await.unwrap();
    assert_eq!(listed.data.len(), 1);
    let card = listed.data[0].card.clone().unwrap();
    assert_eq!((card.brand.as_str(), card.last4.as_str(), card.exp_year), ("mastercard", "4444", 2034));

    let params = CreatePaymentIntent {
        customer: Some(customer.id.clone()),
        payment_method: Some(pm.clone()),
        confirm: true,
        off_session: true,
        ..usd(999)
    };
    let pi = client.create_payment_intent(&params, &key("pi")).await.unwrap();
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
}

#[tokio::test]
async fn the_generic_decline_card_fails_setup_and_an_insufficient_funds_card_fails_only_when_charged() {
    let fake = start_fake().await;
    let client = client(&fake);
    let customer = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let si = client.create_setup_intent(&setup_for(&customer.id), &key("si")).await.unwrap();
    let refused = fake.confirm_setup_intent(&si.id, "pm_card_chargeDeclined").unwrap_err();
    assert_eq!((refused.status, refused.code), (402, Some("card_declined")));
    assert_eq!(refused.to_json()["error"]["setup_intent"]["status"], "requires_payment_method");
    assert_eq!(fake.events_of_type("setup_intent.setup_failed").len(), 1);
    assert!(client.list_payment_methods(&customer.id).await.unwrap().data.is_empty());

    // The customer tries another card on the same intent.
    fake.confirm_setup_intent(&si.id, "pm_card_visa_chargeDeclinedInsufficientFunds").unwrap();
    let pm = client.retrieve_setup_intent(&si.id).await.unwrap().payment_method.unwrap();
    let params = CreatePaymentIntent {
        customer: Some(customer.id.clone()),
        payment_method: Some(pm),
        confirm: true,
        off_session: true,
        ..usd(500)
    };
    let err = client.create_payment_intent(&params, &key("pi")).await.unwrap_err();
    assert!(matches!(err, StripeError::Card { .. }), "{err:?}");
}

#[tokio::test]
async fn a_3ds_card_needs_authentication_before_it_is_saved() {
    let fake = start_fake().await;
    let client = client(&fake);
    let customer = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let si = client.create_setup_intent(&setup_for(&customer.id), &key("si")).await.unwrap();
    let answer = fake.confirm_setup_intent(&si.id, "pm_card_authenticationRequired").unwrap();
    assert_eq!(answer["status"], "requires_action");
    assert!(fake.events_of_type("setup_intent.succeeded").is_empty());
    fake.complete_setup_authentication(&si.id).unwrap();
    assert_eq!(client.retrieve_setup_intent(&si.id).await.unwrap().status, SetupIntentStatus::Succeeded);
    // Confirming a succeeded intent again is Stripe's unexpected-state error.
    let again = fake.confirm_setup_intent(&si.id, "pm_card_visa").unwrap_err();
    assert_eq!(again.code, Some("setup_intent_unexpected_state"));
}

#[tokio::test]
async fn the_default_method_must_be_attached_and_detaching_it_clears_it_for_good() {
    let fake = start_fake().await;
    let client = client(&fake);
    let alice = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let bob = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let visa = client.attach_payment_method("pm_card_visa", &alice.id, &key("attach")).await.unwrap();
    assert_eq!(visa.customer.as_deref(), Some(alice.id.as_str()));

    let updated = client.set_default_payment_method(&alice.id, Some(&visa.id), &key("default")).await.unwrap();
    assert_eq!(updated.invoice_settings.unwrap().default_payment_method.as_deref(), Some(visa.id.as_str()));
    let err = client.set_default_payment_method(&bob.id, Some(&visa.id), &key("default")).await.unwrap_err();
    assert_eq!(err.code(), Some("resource_missing"), "not bob's card: {err:?}");
    let stolen = client.attach_payment_method(&visa.id, &bob.id, &key("attach")).await.unwrap_err();
    assert_eq!(stolen.code(), Some("payment_method_unexpected_state"));
    // Charging bob with alice's card is refused.
    let params = CreatePaymentIntent {
        customer: Some(bob.id.clone()),
        payment_method: Some(visa.id.clone()),
        confirm: true,
        off_session: true,
        ..usd(100)
    };
    assert!(client.create_payment_intent(&params, &key("pi")).await.is_err());

    let detach_key = key("detach");
    let detached = client.detach_payment_method(&visa.id, &detach_key).await.unwrap();
    assert_eq!(detached.customer, None);
    // The same key replays the answer; a new one finds nothing to detach.
    assert_eq!(client.detach_payment_method(&visa.id, &detach_key).await.unwrap(), detached);
    let err = client.detach_payment_method(&visa.id, &key("detach")).await.unwrap_err();
    assert_eq!(err.code(), Some("payment_method_unexpected_state"));
    let customer = client.retrieve_customer(&alice.id).await.unwrap();
    assert_eq!(customer.invoice_settings.unwrap().default_payment_method, None);
    assert!(client.list_payment_methods(&alice.id).await.unwrap().data.is_empty());
    let params = CreatePaymentIntent { customer: Some(alice.id.clone()), ..params };
    assert!(client.create_payment_intent(&params, &key("pi")).await.is_err(), "a detached card is never used again");
}

#[tokio::test]
async fn lists_are_newest_first_and_unknown_parameters_are_refused() {
    let fake = start_fake().await;
    let client = client(&fake);
    let customer = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let first = client.attach_payment_method("pm_card_visa", &customer.id, &key("a")).await.unwrap();
    let second = client.attach_payment_method("pm_card_mastercard", &customer.id, &key("a")).await.unwrap();
    let ids: Vec<String> =
        client.list_payment_methods(&customer.id).await.unwrap().data.into_iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![second.id, first.id]);

    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}/v1/setup_intents", fake.base_url()))
        .bearer_auth(fake.api_key())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("customer={}&usage=sometimes", customer.id))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let answer = http
        .post(format!("{}/v1/customers/{}", fake.base_url(), customer.id))
        .bearer_auth(fake.api_key())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("invoice_settings[footer]=x")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "parameter_unknown");
}

#[tokio::test]
async fn the_setup_control_endpoint_confirms_over_http() {
    let fake = start_fake().await;
    let client = client(&fake);
    let customer = client.create_customer(&CreateCustomer::default(), &key("cus")).await.unwrap();
    let si = client.create_setup_intent(&setup_for(&customer.id), &key("si")).await.unwrap();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/_fake/setup_intents/{}/confirm", fake.base_url(), si.id))
        .json(&serde_json::json!({"payment_method": "pm_card_visa"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "succeeded");
    assert_eq!(fake.payment_methods().len(), 1);
}
