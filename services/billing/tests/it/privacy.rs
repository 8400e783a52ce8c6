//! billing's part of the data-subject export: the user's customer, payments, receipts, refunds
//! and history; none of another user's; who may ask and the audit entry of an admin's read.

use crate::support::Stack;
use platform::auth::Role;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use testkit::privacy::{assert_access, assert_mentions_none, own, rows};
use uuid::Uuid;

async fn paid(s: &Stack, buyer: Uuid, amount: &str) -> String {
    let payment = s.new_payment(buyer, amount).await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(buyer, &id, "succeeded").await;
    id
}

fn amount(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}")).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_users_payments_receipts_refunds_and_nothing_of_anyone_else() {
    let s = Stack::start().await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let first = paid(&s, ada, "20.00").await;
    let second = paid(&s, ada, "5.50").await;
    let bobs = paid(&s, bob, "7.00").await;
    let refund = s.refund(ada, &[Role::Learner], &second, json!({"reason": "requested_by_customer"}), "p-1").await;
    assert_eq!(refund.status(), 201, "{:?}", refund.text().await);

    let export = own(&s.svc.url(), "billing", ada).await;
    let customer = rows(&export, "customer");
    assert_eq!(customer.len(), 1, "{export}");
    assert!(customer[0]["stripe_customer_id"].as_str().is_some_and(|c| c.starts_with("cus_")), "{export}");
    let payments = rows(&export, "payments");
    let ids: Vec<&str> = payments.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert_eq!(payments.iter().map(|p| amount(&p["amount"])).sum::<Decimal>(), Decimal::new(2550, 2));
    assert!(payments.iter().all(|p| p.get("client_secret").is_none()), "a client secret is not exported: {export}");
    let receipts = rows(&export, "receipts");
    assert_eq!(receipts.len(), 2, "{export}");
    assert!(receipts.iter().all(|r| r["receipt_number"].as_str().is_some_and(|n| !n.is_empty())), "{export}");
    let refunds = rows(&export, "refunds");
    assert_eq!(refunds.len(), 1, "{export}");
    assert_eq!(
        (refunds[0]["payment_id"].as_str(), amount(&refunds[0]["amount"])),
        (Some(&*second), Decimal::new(550, 2))
    );
    assert!(refunds[0].get("requested_by").is_none(), "{export}");
    assert!(rows(&export, "billing_history").len() >= 2, "{export}");
    assert_mentions_none(&export, &[bob.to_string(), bobs]);

    let bobs_export = own(&s.svc.url(), "billing", bob).await;
    assert_eq!(rows(&bobs_export, "payments").len(), 1);
    assert_mentions_none(&bobs_export, &[ada.to_string(), first, second]);
    assert_access(&s.svc.url(), "billing", &s.svc.pool, ada).await;
    s.stop().await;
}
