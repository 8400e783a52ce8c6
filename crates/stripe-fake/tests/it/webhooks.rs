use std::time::Duration;

use stripe::{CreateRefund, EventType, WebhookVerifier};
use stripe_fake::FakeConfig;

use crate::helpers::{client, fake_with_receiver, key, paid_intent, start_fake_with, usd, Receiver};

#[tokio::test]
async fn payment_and_refund_events_are_signed_and_verifiable() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    let pi = client.create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    fake.confirm_payment_intent(&pi.id, "pm_card_visa").unwrap();

    let event = receiver.next_event(fake.webhook_secret()).await;
    assert!(event.id.starts_with("evt_"));
    assert_eq!(event.kind(), EventType::PaymentIntentSucceeded);
    assert!(!event.livemode);
    let paid = event.payment_intent().unwrap();
    assert_eq!((paid.id.as_str(), paid.amount_received), (pi.id.as_str(), 999));

    let refund = CreateRefund { payment_intent: Some(pi.id.clone()), amount: Some(400), ..Default::default() };
    client.create_refund(&refund, &key("refund")).await.unwrap();
    let event = receiver.next_event(fake.webhook_secret()).await;
    assert_eq!(event.kind(), EventType::ChargeRefunded);
    let charge = event.charge().unwrap();
    assert_eq!((charge.amount_refunded, charge.refunded), (400, false));
    assert_eq!(charge.payment_intent.as_deref(), Some(pi.id.as_str()));
    assert_eq!(fake.events().len(), 2);
}

#[tokio::test]
async fn failures_send_payment_failed_and_a_wrong_secret_does_not_verify() {
    let (fake, receiver) = fake_with_receiver().await;
    let pi = client(&fake).create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    assert!(fake.confirm_payment_intent(&pi.id, "pm_card_chargeDeclined").is_err());
    let received = receiver.next().await;
    let event =
        WebhookVerifier::new([fake.webhook_secret()]).construct_event(&received.signature, &received.body).unwrap();
    assert_eq!(event.kind(), EventType::PaymentIntentPaymentFailed);
    let failed = event.payment_intent().unwrap();
    assert_eq!(failed.last_payment_error.unwrap().code.as_deref(), Some("card_declined"));
    // Rotation: the old secret alongside the right one still verifies; a wrong one alone does not.
    let rotating = WebhookVerifier::new(["whsec_previous", fake.webhook_secret()]);
    assert!(rotating.verify(&received.signature, &received.body).is_ok());
    assert!(WebhookVerifier::new(["whsec_wrong"]).verify(&received.signature, &received.body).is_err());
}

#[tokio::test]
async fn failing_receivers_get_retried_with_backoff() {
    let (fake, receiver) = fake_with_receiver().await;
    receiver.respond_with(&[500, 503]);
    let client = client(&fake);
    let pi = paid_intent(&fake, &client, 700).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let event = receiver.next_event(fake.webhook_secret()).await;
        ids.push(event.id);
    }
    assert!(ids.iter().all(|id| id == &ids[0]), "one event, three attempts");
    receiver.assert_quiet().await;
    let attempts = fake.delivery_attempts();
    let statuses: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status, a.delivered)).collect();
    assert_eq!(statuses, vec![(1, Some(500), false), (2, Some(503), false), (3, Some(200), true)]);
    assert_eq!(fake.event(&ids[0]).unwrap()["data"]["object"]["id"], pi.id.as_str());
}

#[tokio::test]
async fn delivery_attempts_are_bounded() {
    let (fake, receiver) = fake_with_receiver().await;
    receiver.respond_with(&[500; 10]);
    let client = client(&fake);
    paid_intent(&fake, &client, 700).await;
    // for_tests() allows four attempts.
    for _ in 0..4 {
        receiver.next().await;
    }
    receiver.assert_quiet().await;
    assert!(fake.delivery_attempts().iter().all(|a| !a.delivered));
}

#[tokio::test]
async fn duplicate_delivers_the_same_event_twice() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    paid_intent(&fake, &client, 700).await;
    let original = receiver.next_event(fake.webhook_secret()).await;
    fake.duplicate_event(&original.id).unwrap();
    let first = receiver.next_event(fake.webhook_secret()).await;
    let second = receiver.next_event(fake.webhook_secret()).await;
    assert_eq!((first.id.as_str(), second.id.as_str()), (original.id.as_str(), original.id.as_str()));
    assert_eq!(first, original, "redeliveries carry the same payload");
    fake.resend_event(&original.id).unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, original.id);
    assert!(fake.resend_event("evt_missing").is_err());
}

#[tokio::test]
async fn held_events_are_released_in_the_chosen_order() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    fake.hold_events();
    let pi = paid_intent(&fake, &client, 1000).await;
    let refund = CreateRefund { payment_intent: Some(pi.id.clone()), ..Default::default() };
    client.create_refund(&refund, &key("refund")).await.unwrap();
    receiver.assert_quiet().await;

    let held = fake.held_event_ids();
    assert_eq!(held.len(), 2);
    let (succeeded, refunded) = (held[0].clone(), held[1].clone());
    // The refund's event arrives before the payment's: billing must cope.
    assert_eq!(fake.release_events(&[&refunded, &succeeded]).await, 2);
    let first = receiver.next_event(fake.webhook_secret()).await;
    let second = receiver.next_event(fake.webhook_secret()).await;
    assert_eq!((first.kind(), second.kind()), (EventType::ChargeRefunded, EventType::PaymentIntentSucceeded));
    assert_eq!((first.id, second.id), (refunded, succeeded));

    // Released means no longer held.
    assert!(fake.held_event_ids().is_empty());
    fake.resend_event(&held[0]).unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, held[0]);
}

#[tokio::test]
async fn webhook_url_can_change_at_runtime() {
    let fake = start_fake_with(FakeConfig::for_tests()).await;
    let client = client(&fake);
    paid_intent(&fake, &client, 300).await;
    let event_id = fake.events()[0]["id"].as_str().unwrap().to_owned();
    // Stored but not deliverable without a URL.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let attempts = fake.delivery_attempts();
    assert_eq!(attempts.len(), 1);
    assert!(!attempts[0].delivered && attempts[0].url.is_none());

    let receiver = Receiver::start().await;
    fake.set_webhook_url(Some(&receiver.url));
    fake.resend_event(&event_id).unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, event_id);
}

#[tokio::test]
async fn a_payment_intents_webhooks_can_be_dropped_and_one_delivered_late() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    let other = client.create_payment_intent(&usd(300), &key("pi")).await.unwrap();
    let pi = client.create_payment_intent(&usd(999), &key("pi")).await.unwrap();
    fake.drop_webhooks(&pi.id);
    fake.confirm_payment_intent(&pi.id, "pm_card_visa").unwrap();
    let refund = CreateRefund { payment_intent: Some(pi.id.clone()), amount: Some(400), ..Default::default() };
    client.create_refund(&refund, &key("refund")).await.unwrap();

    // Another intent's events still arrive; none of the dropped intent's (its charge's included).
    fake.confirm_payment_intent(&other.id, "pm_card_visa").unwrap();
    let event = receiver.next_event(fake.webhook_secret()).await;
    assert_eq!(event.payment_intent().unwrap().id, other.id);
    receiver.assert_quiet().await;
    let dropped = fake.dropped_event_ids();
    let types: Vec<_> = dropped.iter().map(|id| fake.event(id).unwrap()["type"].clone()).collect();
    assert_eq!(types, ["payment_intent.succeeded", "charge.refunded"]);

    // A late delivery, asked for explicitly, still goes out; new events flow once dropping stops.
    fake.resend_event(&dropped[0]).unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, dropped[0]);
    fake.deliver_webhooks(&pi.id);
    client.create_refund(&refund, &key("refund")).await.unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.kind(), EventType::ChargeRefunded);
    assert_eq!(fake.dropped_event_ids().len(), 2);
}
