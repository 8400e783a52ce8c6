//! subscriptions' part of the data-subject export: the user's subscriptions, charges, history and
//! grants; none of another user's; who may ask and the audit entry of an admin's read.

use crate::support::Stack;
use testkit::privacy::{assert_access, assert_mentions_none, own, rows};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_users_subscription_charges_history_and_grants_only() {
    let s = Stack::start().await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let adas = s.subscribe_and_pay(ada, "pro", "pm_card_visa").await;
    let bobs = s.subscribe_and_pay(bob, "enterprise", "pm_card_visa").await;

    let export = own(&s.svc.url(), "subscriptions", ada).await;
    let subscriptions = rows(&export, "subscriptions");
    assert_eq!(subscriptions.len(), 1, "{export}");
    assert_eq!(subscriptions[0]["id"], adas["subscription"]["id"], "{export}");
    assert_eq!((subscriptions[0]["tier"].as_str(), subscriptions[0]["status"].as_str()), (Some("pro"), Some("active")));
    let charges = rows(&export, "charges");
    assert_eq!(charges.len(), 1, "{export}");
    assert_eq!(charges[0]["amount"], "9.99", "{export}");
    assert!(!rows(&export, "history").is_empty(), "{export}");
    rows(&export, "grants");
    let bobs_id = bobs["subscription"]["id"].as_str().unwrap().to_string();
    assert_mentions_none(&export, &[bob.to_string(), bobs_id]);
    assert_access(&s.svc.url(), "subscriptions", &s.svc.pool, ada).await;
    s.stop().await;
}
