use stripe::{CreateRefund, RefundReason, RefundStatus, StripeError};

use crate::helpers::{client, key, paid_intent, start_fake, usd};

#[tokio::test]
async fn partial_refunds_up_to_the_total_then_refused() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = paid_intent(&fake, &client, 1000).await;
    let refund = |amount: Option<i64>| CreateRefund {
        payment_intent: Some(pi.id.clone()),
        amount,
        reason: Some(RefundReason::RequestedByCustomer),
        metadata: [("refund_id".to_owned(), "r-1".to_owned())].into(),
        ..Default::default()
    };

    let first = client.create_refund(&refund(Some(300)), &key("refund")).await.unwrap();
    assert!(first.id.starts_with("re_"));
    assert_eq!((first.amount, first.status), (300, RefundStatus::Succeeded));
    assert_eq!(first.payment_intent.as_deref(), Some(pi.id.as_str()));
    assert_eq!(first.charge, pi.latest_charge);
    assert_eq!(first.reason, Some(RefundReason::RequestedByCustomer));
    assert_eq!(first.metadata["refund_id"], "r-1");
    assert_eq!(client.retrieve_refund(&first.id).await.unwrap(), first);

    let charge_id = pi.latest_charge.clone().unwrap();
    let charge = client.retrieve_charge(&charge_id).await.unwrap();
    assert_eq!((charge.amount_refunded, charge.refunded), (300, false));

    // More than what is left.
    let err = client.create_refund(&refund(Some(701)), &key("refund")).await.unwrap_err();
    assert!(matches!(&err, StripeError::InvalidRequest { status: 400, .. }), "{err:?}");
    assert_eq!(err.code(), Some("amount_too_large"));

    // Exactly what is left.
    client.create_refund(&refund(Some(700)), &key("refund")).await.unwrap();
    let charge = client.retrieve_charge(&charge_id).await.unwrap();
    assert_eq!((charge.amount_refunded, charge.refunded), (1000, true));

    // Nothing left.
    let err = client.create_refund(&refund(Some(1)), &key("refund")).await.unwrap_err();
    assert_eq!(err.code(), Some("charge_already_refunded"));
    let err = client.create_refund(&refund(None), &key("refund")).await.unwrap_err();
    assert_eq!(err.code(), Some("charge_already_refunded"));
    assert_eq!(fake.refunds().len(), 2);
}

#[tokio::test]
async fn full_refund_by_charge_is_the_default() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = paid_intent(&fake, &client, 4200).await;
    let params =
        CreateRefund { charge: pi.latest_charge.clone(), reason: Some(RefundReason::Duplicate), ..Default::default() };
    let refund = client.create_refund(&params, &key("refund")).await.unwrap();
    assert_eq!(refund.amount, 4200);
    assert_eq!(refund.payment_intent.as_deref(), Some(pi.id.as_str()));
    assert!(client.retrieve_charge(&pi.latest_charge.unwrap()).await.unwrap().refunded);
}

#[tokio::test]
async fn unpaid_intents_cannot_be_refunded() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = client.create_payment_intent(&usd(500), &key("pi")).await.unwrap();
    let params = CreateRefund { payment_intent: Some(pi.id), ..Default::default() };
    let err = client.create_refund(&params, &key("refund")).await.unwrap_err();
    assert!(matches!(err, StripeError::InvalidRequest { status: 400, .. }), "{err:?}");
    let missing = CreateRefund { payment_intent: Some("pi_missing".into()), ..Default::default() };
    let err = client.create_refund(&missing, &key("refund")).await.unwrap_err();
    assert_eq!(err.code(), Some("resource_missing"));
}

#[tokio::test]
async fn an_expanded_charge_lists_api_dashboard_and_failed_refunds() {
    let fake = start_fake().await;
    let client = client(&fake);
    let pi = paid_intent(&fake, &client, 2000).await;
    let charge_id = pi.latest_charge.clone().unwrap();
    let ours = CreateRefund {
        payment_intent: Some(pi.id.clone()),
        amount: Some(300),
        metadata: [("refund_id".to_owned(), "r-1".to_owned())].into(),
        ..Default::default()
    };
    let ours = client.create_refund(&ours, &key("refund")).await.unwrap();
    assert!(client.retrieve_charge(&charge_id).await.unwrap().refunds.is_none(), "only when expanded, as Stripe");

    // Made in the dashboard: no metadata of ours, no reason, charge.refunded all the same.
    let dashboard = fake.dashboard_refund(&pi.id, Some(500), None).unwrap();
    assert_eq!(dashboard["amount"], 500);
    assert!(dashboard["metadata"].as_object().unwrap().is_empty());
    assert_eq!(fake.events_of_type("charge.refunded").len(), 2);

    let charge = client.retrieve_charge_with_refunds(&charge_id).await.unwrap();
    assert_eq!(charge.amount_refunded, 800);
    let listed = charge.refunds.unwrap().data;
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(listed.len(), 2, "{ids:?}");
    assert!(ids.contains(&ours.id.as_str()) && ids.contains(&dashboard["id"].as_str().unwrap()));

    // A refund that fails later gives its amount back to the charge and says so.
    fake.fail_refund(&ours.id).unwrap();
    let failed = client.retrieve_refund(&ours.id).await.unwrap();
    assert_eq!(failed.status, RefundStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("expired_or_canceled_card"));
    let updated = fake.events_of_type("charge.refund.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["data"]["object"]["id"], ours.id.as_str());
    let charge = client.retrieve_charge_with_refunds(&charge_id).await.unwrap();
    assert_eq!(charge.amount_refunded, 500);
    assert!(fake.fail_refund(&ours.id).is_err(), "fails once");

    // The same controls over HTTP.
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/_fake/refunds", fake.base_url()))
        .json(&serde_json::json!({"payment_intent": pi.id, "amount": 100, "reason": "duplicate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let made: serde_json::Value = res.json().await.unwrap();
    assert_eq!(made["reason"], "duplicate");
    let res = http
        .post(format!("{}/_fake/refunds/{}/fail", fake.base_url(), made["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
