//! The `/_fake` routes, for tests that run the fake as a separate process.

use serde_json::{json, Value};

use crate::helpers::{client, fake_with_receiver, key, usd};

#[tokio::test]
async fn controls_work_over_http() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/_fake/{path}", fake.base_url);

    // Confirm as the client app, with a form body like Stripe.js.
    let pi = client.create_payment_intent(&usd(1234), &key("pi")).await.unwrap();
    let confirmed: Value = http
        .post(url(&format!("payment_intents/{}/confirm", pi.id)))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("payment_method=pm_card_visa")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(confirmed["status"], "succeeded");
    let event = receiver.next_event(fake.webhook_secret()).await;

    // A decline answers 402 with Stripe's error object, JSON body this time.
    let pi2 = client.create_payment_intent(&usd(1234), &key("pi")).await.unwrap();
    let declined = http
        .post(url(&format!("payment_intents/{}/confirm", pi2.id)))
        .json(&json!({"payment_method": "pm_card_chargeDeclined"}))
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 402);
    let declined: Value = declined.json().await.unwrap();
    assert_eq!(declined["error"]["decline_code"], "generic_decline");
    receiver.next().await;

    // Events list and lookup.
    let events: Value = http.get(url("events")).send().await.unwrap().json().await.unwrap();
    assert_eq!(events["data"].as_array().unwrap().len(), 2);
    let one: Value = http.get(url(&format!("events/{}", event.id))).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["type"], "payment_intent.succeeded");

    // Duplicate over HTTP.
    let status = http.post(url(&format!("events/{}/duplicate", event.id))).send().await.unwrap().status();
    assert_eq!(status, 200);
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, event.id);
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, event.id);

    // Hold, resend two events, release in reverse order.
    http.post(url("events/hold")).send().await.unwrap();
    let ids: Vec<String> =
        events["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    for id in &ids {
        http.post(url(&format!("events/{id}/resend"))).send().await.unwrap();
    }
    let held: Value = http.get(url("events/held")).send().await.unwrap().json().await.unwrap();
    assert_eq!(held["data"], json!(ids));
    let released: Value = http
        .post(url("events/release"))
        .json(&json!({"order": [ids[1], ids[0]]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released["released"], 2);
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, ids[1]);
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, ids[0]);

    // Faults and call counts.
    http.post(url("faults")).json(&json!({"fault": {"status": 500}, "count": 1})).send().await.unwrap();
    client.create_customer(&Default::default(), &key("c")).await.unwrap();
    let calls: Value = http.get(url("calls")).send().await.unwrap().json().await.unwrap();
    assert_eq!(calls["POST /v1/customers"], 2);
    assert_eq!(calls["POST /v1/payment_intents"], 2);
    http.post(url("faults")).json(&json!({"fault": {"status": 500}, "count": 5})).send().await.unwrap();
    assert_eq!(http.delete(url("faults")).send().await.unwrap().status(), 204);
    client.create_customer(&Default::default(), &key("c")).await.unwrap();

    // Object listings and delivery log.
    let intents: Value = http.get(url("payment_intents")).send().await.unwrap().json().await.unwrap();
    assert_eq!(intents["data"].as_array().unwrap().len(), 2);
    let deliveries: Value = http.get(url("deliveries")).send().await.unwrap().json().await.unwrap();
    assert!(deliveries["data"].as_array().unwrap().len() >= 6);

    // Turning webhooks off over HTTP.
    http.put(url("webhook_url")).json(&json!({"url": null})).send().await.unwrap();
    http.post(url(&format!("events/{}/resend", event.id))).send().await.unwrap();
    receiver.assert_quiet().await;
}

#[tokio::test]
async fn the_api_speaks_stripe_errors() {
    let fake = crate::helpers::start_fake().await;
    let http = reqwest::Client::new();
    let post = |path: &str, key: Option<&str>, body: &'static str| {
        let mut request = http
            .post(format!("{}/v1/{path}", fake.base_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let missing = post("customers", None, "").await.unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = post("customers", Some("sk_test_nope"), "").await.unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["error"]["type"], "invalid_request_error");
    assert!(!wrong["error"]["message"].as_str().unwrap().contains("sk_test_nope"));

    let unknown = post("payment_intents", Some(fake.api_key()), "amount=100&currency=usd&amuont=1").await.unwrap();
    assert_eq!(unknown.status(), 400);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"]["code"], "parameter_unknown");
    assert_eq!(unknown["error"]["param"], "amuont");

    let bad_int = post("payment_intents", Some(fake.api_key()), "amount=9.99&currency=usd").await.unwrap();
    let bad_int: Value = bad_int.json().await.unwrap();
    assert_eq!(bad_int["error"]["code"], "parameter_invalid_integer");

    let bad_reason = post("refunds", Some(fake.api_key()), "charge=ch_x&reason=because").await.unwrap();
    assert_eq!(bad_reason.status(), 400);

    let nowhere =
        http.get(format!("{}/v1/subscriptions", fake.base_url)).bearer_auth(fake.api_key()).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
}

#[tokio::test]
async fn webhooks_of_an_intent_are_dropped_and_resumed_over_http() {
    let (fake, receiver) = fake_with_receiver().await;
    let client = client(&fake);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/_fake/{path}", fake.base_url);
    let pi = client.create_payment_intent(&usd(500), &key("pi")).await.unwrap();

    let dropping: Value =
        http.post(url(&format!("payment_intents/{}/drop_webhooks", pi.id))).send().await.unwrap().json().await.unwrap();
    assert_eq!(dropping["dropping"], true);
    fake.confirm_payment_intent(&pi.id, "pm_card_visa").unwrap();
    receiver.assert_quiet().await;
    let dropped: Value = http.get(url("events/dropped")).send().await.unwrap().json().await.unwrap();
    let ids = dropped["data"].as_array().unwrap();
    assert_eq!(ids.len(), 1);

    // Delivered late on request; new events flow again once dropping stops.
    http.post(url(&format!("events/{}/resend", ids[0].as_str().unwrap()))).send().await.unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.id, ids[0].as_str().unwrap());
    let resumed: Value = http
        .delete(url(&format!("payment_intents/{}/drop_webhooks", pi.id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["dropping"], false);
    let refund = stripe::CreateRefund { payment_intent: Some(pi.id.clone()), ..Default::default() };
    client.create_refund(&refund, &key("refund")).await.unwrap();
    assert_eq!(receiver.next_event(fake.webhook_secret()).await.kind(), stripe::EventType::ChargeRefunded);
}
