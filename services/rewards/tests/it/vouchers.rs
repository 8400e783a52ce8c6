//! Vouchers at checkout, rewards' side: marketplace reserves one with the internal call, the
//! purchase consumes it, `marketplace.voucher.released.v2` (or a v1 still in flight) gives it
//! back. Codes are kept only as keyed hashes (issue 21).

use crate::support::Rewards;
use chrono::Utc;
use events::catalog::marketplace::{CoursePurchased, VoucherReleased, VoucherReleasedV2};
use platform::auth::Role;
use platform::money::{Currency, Money};
use serde_json::{json, Value};
use uuid::Uuid;

const AT: &str = "2026-11-24T09:00:00Z";

/// The hash key of the tests' configuration (`rewards::Config::default()`).
fn hasher() -> platform::code_hash::CodeHasher {
    let key = platform::config::Secret::new(platform::code_hash::DEV_KEY);
    platform::code_hash::CodeHasher::new(&key, None).unwrap()
}

async fn voucher(s: &Rewards, user: Uuid) -> String {
    s.award(user, 300).await;
    let res = s.redeem(user, "course_voucher", &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["voucher"]["code"].as_str().unwrap().to_string()
}

/// `POST /internal/vouchers/reserve` as marketplace calls it.
async fn reserve(s: &Rewards, code: &str, user: Uuid, purchase: Uuid, currency: &str) -> (u16, Value) {
    let token = testkit::internal_token("rewards", "service:marketplace", &[Role::Service]);
    let res = s
        .http
        .post(s.url("/internal/vouchers/reserve"))
        .header("x-internal-token", token)
        .json(&json!({"code": code, "user_id": user, "purchase_id": purchase, "currency": currency}))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn refused(answer: &(u16, Value), code: &str) {
    assert_eq!(answer.0, 422, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert_eq!(answer.1["errors"][0]["field"], "voucher_code", "{}", answer.1);
}

async fn status_of(s: &Rewards, code: &str) -> (String, Option<Uuid>) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use rewards::store::schema::vouchers;
    let mut conn = s.conn().await;
    // Found the way the service finds it: by the code's hash under the (test) key.
    let hash = hasher().hash(code);
    vouchers::table
        .filter(vouchers::code_hash.eq(hash))
        .select((vouchers::status, vouchers::purchase_id))
        .first::<(String, Option<Uuid>)>(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_reserves_once_in_its_currency_before_it_expires() {
    let s = Rewards::start_at(AT).await;
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let code = voucher(&s, me).await;
    let purchase = Uuid::now_v7();

    // Only a service may call it.
    let body = json!({"code": code, "user_id": me, "purchase_id": purchase, "currency": "USD"});
    let learner = s.post(me, &[Role::Learner], "/internal/vouchers/reserve", None, body).await;
    assert_eq!(learner.status(), 403);
    refused(&reserve(&s, &code, other, purchase, "USD").await, "voucher_not_found");
    refused(&reserve(&s, "RW-0000-0000-0000-0000", me, purchase, "USD").await, "voucher_not_found");
    refused(&reserve(&s, &code, me, purchase, "EUR").await, "voucher_currency_mismatch");

    let held = reserve(&s, &code.to_lowercase(), me, purchase, "USD").await;
    assert_eq!(held.0, 200, "{}", held.1);
    assert_eq!(held.1["value"], json!({"amount": "5.00", "currency": "USD"}));
    // A retry for the same purchase is answered the same; another purchase is refused.
    assert_eq!(reserve(&s, &code, me, purchase, "USD").await.0, 200);
    refused(&reserve(&s, &code, me, Uuid::now_v7(), "USD").await, "voucher_used");
    assert_eq!(status_of(&s, &code).await, ("reserved".into(), Some(purchase)));

    // Expired: refused (the default validity is 90 days).
    let late = voucher(&s, me).await;
    s.set_time("2027-03-01T09:00:00Z");
    refused(&reserve(&s, &late, me, Uuid::now_v7(), "USD").await, "voucher_expired");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_purchases_racing_for_one_voucher_exactly_one_gets_it() {
    let s = Rewards::start_at(AT).await;
    let me = Uuid::now_v7();
    let code = voucher(&s, me).await;
    let attempts = (0..8).map(|_| reserve(&s, &code, me, Uuid::now_v7(), "USD"));
    let answers = futures_util::future::join_all(attempts).await;
    let won = answers.iter().filter(|a| a.0 == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    for lost in answers.iter().filter(|a| a.0 != 200) {
        refused(lost, "voucher_used");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_purchase_consumes_it_and_a_release_gives_it_back_until_it_expires() {
    let s = Rewards::start_at(AT).await;
    s.wait_consumer().await;
    let me = Uuid::now_v7();
    let code = voucher(&s, me).await;
    let purchase = Uuid::now_v7();
    assert_eq!(reserve(&s, &code, me, purchase, "USD").await.0, 200);
    let usd = |a: &str| Money::new(a.parse().unwrap(), Currency::USD).unwrap();
    s.publish(&CoursePurchased {
        purchase_id: purchase,
        course_id: Uuid::now_v7(),
        buyer_id: me,
        instructor_id: Uuid::now_v7(),
        gross: usd("14.99"),
        instructor_share: usd("13.99"),
        platform_share: usd("1.00"),
        payment_id: Some(Uuid::now_v7()),
        purchased_at: Utc::now(),
        tax: None,
    })
    .await;
    s.wait_drained().await;
    assert_eq!(status_of(&s, &code).await, ("consumed".into(), Some(purchase)));

    // A release for another purchase changes nothing; this purchase's (twice: a v1 still in
    // flight from before the upgrade, then a v2 without the code) gives it back once.
    let release = |purchase_id| VoucherReleasedV2 {
        voucher_code_prefix: code[..7].to_string(),
        purchase_id,
        user_id: me,
        reason: "refunded".into(),
        released_at: Utc::now(),
    };
    s.publish(&release(Uuid::now_v7())).await;
    s.wait_drained().await;
    assert_eq!(status_of(&s, &code).await.0, "consumed");
    s.publish(&VoucherReleased {
        voucher_code: code.clone(),
        purchase_id: purchase,
        user_id: me,
        reason: "refunded".into(),
        released_at: Utc::now(),
    })
    .await;
    s.publish(&release(purchase)).await;
    s.wait_drained().await;
    assert_eq!(status_of(&s, &code).await, ("issued".into(), None));
    let again = Uuid::now_v7();
    assert_eq!(reserve(&s, &code, me, again, "USD").await.0, 200);

    // Released after it expired: it stays unusable.
    s.set_time("2027-03-01T09:00:00Z");
    s.publish(&release(again)).await;
    s.wait_drained().await;
    assert_eq!(status_of(&s, &code).await, ("expired".into(), None));
    refused(&reserve(&s, &code, me, Uuid::now_v7(), "USD").await, "voucher_expired");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_is_shown_once_then_only_its_prefix_and_the_database_never_holds_it() {
    let s = Rewards::start_at(AT).await;
    let me = Uuid::now_v7();
    s.award(me, 300).await;
    let first = s.redeem(me, "course_voucher", "redeem-once").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let code = first["voucher"]["code"].as_str().unwrap().to_string();
    assert_eq!(first["voucher"]["code_prefix"], code[..7]);
    assert!(code.starts_with("RW-"));

    // A replay answers the same redemption, without the code: it was never stored to replay.
    let replay = s.redeem(me, "course_voucher", "redeem-once").await;
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["redemption_id"], first["redemption_id"]);
    assert!(replay["voucher"].get("code").is_none(), "{replay}");
    assert_eq!(replay["voucher"]["code_prefix"], code[..7]);

    // The personal-data export shows the prefix, not the hash.
    let export = testkit::privacy::own(&s.svc.url(), "rewards", me).await;
    let vouchers = testkit::privacy::rows(&export, "vouchers");
    assert_eq!(vouchers[0]["code_prefix"], code[..7], "{export}");
    let exported = export.to_string();
    assert!(exported.contains(&code[..7]) && !exported.contains("code_hash"), "{exported}");

    // The code works, by its hash; a near miss and the prefix alone do not, and fail as before.
    let purchase = Uuid::now_v7();
    let held = reserve(&s, &code, me, purchase, "USD").await;
    assert_eq!(held.0, 200, "{}", held.1);
    assert_eq!(held.1["code_prefix"], code[..7]);
    assert!(held.1.get("code").is_none(), "{}", held.1);
    let mut near = code.clone();
    near.replace_range(21..22, if code.ends_with('0') { "1" } else { "0" });
    refused(&reserve(&s, &near, me, Uuid::now_v7(), "USD").await, "voucher_not_found");
    refused(&reserve(&s, &code[..7], me, Uuid::now_v7(), "USD").await, "voucher_not_found");

    // Nothing in the schema holds the code (nor its random part), in any table or column.
    let hits = testkit::erasure::leftovers(&s.env.schema("rewards"), &[&code, &code[3..], &code[8..]]).await;
    assert!(hits.is_empty(), "the voucher code is stored in clear: {hits:?}");
    s.stop().await;
}
