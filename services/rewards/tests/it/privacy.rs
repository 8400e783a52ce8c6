//! rewards' part of the data-subject export: the user's profile, account, ledger, redemptions,
//! vouchers and friends; none of another user's; who may ask and the audit entry of an admin's
//! read.

use crate::support::Rewards;
use platform::auth::Role;
use serde_json::json;
use testkit::privacy::{assert_access, assert_mentions_none, own, rows};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_users_tokens_redemptions_vouchers_profile_and_friends_only() {
    let s = Rewards::start().await;
    let (ada, bob, cleo) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    s.award(ada, 5_000).await;
    s.award(bob, 700).await;
    assert_eq!(s.redeem(ada, "course_voucher", "privacy-1").await.status(), 201);
    let named = s
        .http
        .put(s.url("/api/rewards/profile"))
        .header("x-internal-token", testkit::internal_token("rewards", &ada.to_string(), &[Role::Learner]))
        .json(&json!({"display_name": "Ada Marker"}))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    let asked = s.post(ada, &[Role::Learner], "/api/friends/requests", None, json!({"user_id": cleo})).await;
    assert_eq!(asked.status(), 201);
    let accepted =
        s.post(cleo, &[Role::Learner], &format!("/api/friends/requests/{ada}/accept"), None, json!({})).await;
    assert_eq!(accepted.status(), 200);

    let export = own(&s.svc.url(), "rewards", ada).await;
    assert_eq!(rows(&export, "profile")[0]["display_name"], "Ada Marker", "{export}");
    let account = rows(&export, "account");
    let ledger = rows(&export, "ledger");
    assert_eq!(ledger.len(), 2, "the award and the redemption: {export}");
    let sum: i64 = ledger.iter().map(|t| t["amount"].as_i64().unwrap()).sum();
    assert_eq!(account[0]["balance"].as_i64(), Some(sum), "the ledger adds up to the balance: {export}");
    assert_eq!(ledger.last().unwrap()["balance_after"].as_i64(), Some(sum));
    assert_eq!(rows(&export, "redemptions").len(), 1, "{export}");
    assert_eq!(rows(&export, "vouchers").len(), 1, "{export}");
    let friends = rows(&export, "friends");
    assert_eq!(friends.len(), 1, "{export}");
    assert_eq!(friends[0]["friend_id"].as_str(), Some(&*cleo.to_string()));
    assert_mentions_none(&export, &[bob.to_string()]);
    let bobs = own(&s.svc.url(), "rewards", bob).await;
    assert_eq!(rows(&bobs, "ledger").len(), 1);
    assert!(rows(&bobs, "profile").is_empty() && rows(&bobs, "friends").is_empty(), "{bobs}");
    assert_mentions_none(&bobs, &[ada.to_string(), cleo.to_string(), "Ada Marker".into()]);
    assert_access(&s.svc.url(), "rewards", &s.svc.pool, ada).await;
    s.stop().await;
}
