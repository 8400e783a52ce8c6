//! Tokens from events: once per cause, within the daily cap, clawed back on refund.

use crate::support::Rewards;
use chrono::Utc;
use events::catalog::marketplace::{CoursePurchased, PurchaseRefunded, ReviewPosted};
use events::catalog::subscriptions::SubscriptionRenewed;
use events::CloudEvent;
use platform::money::{Currency, Money};
use serde_json::Value;
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

fn usd(amount: &str) -> Money {
    Money::new(amount.parse().unwrap(), Currency::USD).unwrap()
}

fn purchase(buyer: Uuid, gross: &str) -> CoursePurchased {
    CoursePurchased {
        purchase_id: Uuid::now_v7(),
        course_id: Uuid::now_v7(),
        buyer_id: buyer,
        instructor_id: Uuid::now_v7(),
        gross: usd(gross),
        instructor_share: usd("0.00"),
        platform_share: usd(gross),
        payment_id: Some(Uuid::now_v7()),
        purchased_at: Utc::now(),
        tax: None,
    }
}

fn refund(p: &CoursePurchased, amount: &str, fully: bool) -> PurchaseRefunded {
    PurchaseRefunded {
        purchase_id: p.purchase_id,
        course_id: p.course_id,
        buyer_id: p.buyer_id,
        instructor_id: p.instructor_id,
        refunded_amount: usd(amount),
        instructor_reversal: usd("0.00"),
        platform_reversal: usd(amount),
        fully_refunded: fully,
        // A partial refund that keeps access is an admin's goodwill gesture.
        access_ended: fully,
        refunded_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_purchase_earns_tokens_once() {
    let s = Rewards::start().await;
    let mut events = Capture::bind(&s.env, &["rewards.#"]).await;
    s.wait_consumer().await;
    let buyer = Uuid::now_v7();
    let p = purchase(buyer, "49.99");
    let envelope = s.publish(&p).await;
    s.wait_balance(buyer, 10 + 49).await;
    testkit::bus::publish_raw(&s.env, &envelope).await;
    // The same purchase announced again under a new event id is one purchase too.
    s.publish(&p).await;
    s.wait_drained().await;
    assert_eq!(s.balance_of(buyer).await, 59);
    let list = s.json(buyer, "/api/tokens/transactions").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["kind"], "earn");
    assert_eq!(list["data"][0]["reference"], p.purchase_id.to_string());
    let e = events.expect("rewards.tokens.awarded.v1", Duration::from_secs(10)).await;
    assert_eq!(e.data["amount"], 59);
    assert_eq!(e.data["rule"], "course_purchased");
    assert_eq!(e.data["kind"], "earn");
    // The ledger entry is written from its event (credit_tokens reads the envelope): the same
    // entry, reason, balance and instant.
    let entry = &list["data"][0];
    assert_eq!(entry["id"], e.data["transaction_id"]);
    assert_eq!(entry["reason"], e.data["reason"]);
    assert_eq!(entry["balance_after"], e.data["balance_after"]);
    let instant = |v: &Value| v.as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    assert_eq!(instant(&entry["created_at"]), instant(&e.data["awarded_at"]));
    assert!(events.next(Duration::from_millis(500)).await.is_none(), "awarded once");
    s.assert_books_balance().await;
    // One way into the ledger: the positional signatures are dropped (2026-12-18-100001).
    assert_eq!(credit_signatures(&s).await, ["credit_tokens/6", "earn_once/7"]);
    s.stop().await;
}

/// The schema's `credit_tokens` and `earn_once` functions, as `name/arguments`.
async fn credit_signatures(s: &Rewards) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Signature {
        #[diesel(sql_type = diesel::sql_types::Text)]
        signature: String,
    }
    let mut conn = s.conn().await;
    let rows: Vec<Signature> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT proname || '/' || pronargs AS signature FROM pg_proc
              WHERE pronamespace = current_schema()::regnamespace AND proname IN ('credit_tokens', 'earn_once')
              ORDER BY 1",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    rows.into_iter().map(|r| r.signature).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_cap_is_honoured_and_resets_the_next_day() {
    let s = Rewards::start_at("2026-11-24T09:00:00Z").await;
    s.wait_consumer().await;
    let buyer = Uuid::now_v7();
    // 59 tokens each against a cap of 200 a day: 59 + 59 + 59 + 23, then nothing.
    for _ in 0..5 {
        s.publish(&purchase(buyer, "49.99")).await;
    }
    s.wait_balance(buyer, 200).await;
    s.wait_drained().await;
    assert_eq!(s.balance_of(buyer).await, 200);
    // The events say what was granted (the capped 23, not the rule's 59) and the balance after.
    assert_eq!(s.awarded_events(buyer).await, vec![(59, 59), (59, 118), (59, 177), (23, 200)]);
    // Reviews have a rule (and cap) of their own; one course reviewed twice earns once.
    let course = Uuid::now_v7();
    for _ in 0..2 {
        let review = ReviewPosted {
            review_id: Uuid::now_v7(),
            course_id: course,
            reviewer_id: buyer,
            rating: 5,
            posted_at: Utc::now(),
        };
        s.publish(&review).await;
    }
    s.wait_balance(buyer, 205).await;
    s.set_time("2026-11-25T00:00:01Z");
    s.publish(&purchase(buyer, "49.99")).await;
    s.wait_balance(buyer, 264).await;
    s.wait_drained().await;
    assert_eq!(s.balance_of(buyer).await, 264);
    s.assert_books_balance().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_renewals_earn_from_the_fields_rewards_reads() {
    let s = Rewards::start().await;
    s.wait_consumer().await;
    let user = Uuid::now_v7();
    // The event as subscriptions publishes it (the typed catalog entry, so it matches the
    // contract); rewards reads only the user and the tier.
    let renewed = SubscriptionRenewed {
        subscription_id: Uuid::now_v7(),
        user_id: user,
        tier: "pro".into(),
        status: "active".into(),
        current_period_start: Some("2026-11-24T00:00:00Z".parse().unwrap()),
        current_period_end: Some("2026-12-24T00:00:00Z".parse().unwrap()),
        cancel_at_period_end: false,
        occurred_at: Utc::now(),
        amount: Money::new("9.99".parse().unwrap(), Currency::USD).unwrap(),
    };
    let envelope = CloudEvent::new(&renewed, None).unwrap();
    testkit::bus::publish_raw(&s.env, &envelope).await;
    testkit::bus::publish_raw(&s.env, &envelope).await;
    s.wait_balance(user, 50).await;
    s.wait_drained().await;
    assert_eq!(s.balance_of(user).await, 50);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_claws_back_and_a_negative_balance_blocks_redemption() {
    let s = Rewards::start_at("2026-11-24T09:00:00Z").await;
    let mut events = Capture::bind(&s.env, &["rewards.tokens.clawed_back.v1"]).await;
    s.wait_consumer().await;
    let buyer = Uuid::now_v7();
    let p = purchase(buyer, "49.99");
    s.publish(&p).await;
    s.wait_balance(buyer, 59).await;
    s.award(buyer, 241).await;
    assert_eq!(s.redeem(buyer, "course_voucher", "spend-all").await.status(), 201);
    assert_eq!(s.balance_of(buyer).await, 0);

    // Half refunded: half the tokens (rounded down) come back as debt; then the rest.
    let half = refund(&p, "25.00", false);
    s.publish(&half).await;
    s.wait_balance(buyer, -29).await;
    let e = events.expect("rewards.tokens.clawed_back.v1", Duration::from_secs(10)).await;
    assert_eq!(e.data["amount"], 29);
    assert_eq!(e.data["balance_after"], -29);
    let rest =
        PurchaseRefunded { refunded_at: half.refunded_at + chrono::Duration::seconds(1), ..refund(&p, "24.99", true) };
    s.publish(&rest).await;
    s.publish(&rest).await;
    s.wait_balance(buyer, -59).await;
    s.wait_drained().await;
    let balance = s.balance(buyer).await;
    assert_eq!(balance["balance"], -59);
    assert_eq!(balance["spendable"], 0);
    assert_eq!(balance["lifetime_earned"], 241, "clawbacks lower the score");

    let res = s.redeem(buyer, "course_voucher", "while-negative").await;
    assert_eq!(res.status(), 409);
    let p409: Value = res.json().await.unwrap();
    assert_eq!(p409["code"], "insufficient_tokens");
    assert!(p409["detail"].as_str().unwrap().contains("negative"), "{p409}");

    // New tokens repay the debt first.
    s.award(buyer, 359).await;
    assert_eq!(s.balance(buyer).await["spendable"], 300);
    assert_eq!(s.awarded_events(buyer).await.last(), Some(&(359, 300)), "the event's balance is after the repayment");
    assert_eq!(s.redeem(buyer, "course_voucher", "after-repaying").await.status(), 201);
    let clawbacks = s.json(buyer, "/api/tokens/transactions?kind=clawback").await;
    let amounts: Vec<i64> =
        clawbacks["data"].as_array().unwrap().iter().map(|t| t["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![-30, -29]);
    let weekly = s.json(buyer, "/api/leaderboard/weekly").await;
    assert_eq!(weekly["me"]["score"], 241 + 359, "the earning week's score lost the clawed tokens");
    s.assert_books_balance().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_courses_earn_nothing_by_default_and_a_paid_one_earns() {
    let s = Rewards::start_at("2026-11-24T09:00:00Z").await;
    s.wait_consumer().await;
    let buyer = Uuid::now_v7();
    for _ in 0..3 {
        s.publish(&purchase(buyer, "0.00")).await;
    }
    s.wait_drained().await;
    assert_eq!(s.balance_of(buyer).await, 0, "three free courses: no tokens");
    s.publish(&purchase(buyer, "20.00")).await;
    s.wait_balance(buyer, 10 + 20).await;
    let earned = s.json(buyer, "/api/tokens/transactions?kind=earn").await;
    assert_eq!(earned["data"].as_array().unwrap().len(), 1, "{earned}");
    assert_eq!(earned["data"][0]["reason"], "Course purchased", "{earned}");

    // The free rule's cap is data: raised, free enrolments earn again, within that cap only.
    {
        use diesel_async::RunQueryDsl;
        let mut conn = s.conn().await;
        diesel::sql_query("UPDATE earning_rules SET daily_cap = 15 WHERE id = 'course_enrolled_free'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    s.publish(&purchase(buyer, "0.00")).await;
    s.publish(&purchase(buyer, "0.00")).await;
    s.wait_balance(buyer, 30 + 15).await;
    s.wait_drained().await;
    assert_eq!(s.balance_of(buyer).await, 45);
    s.assert_books_balance().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_that_ends_access_claws_back_every_token() {
    let s = Rewards::start_at("2026-11-24T09:00:00Z").await;
    s.wait_consumer().await;
    let buyer = Uuid::now_v7();
    // The buyer asked for a refund of 19.99 of 20.00: access ends, so no token of it stays.
    let asked = purchase(buyer, "20.00");
    s.publish(&asked).await;
    s.wait_balance(buyer, 30).await;
    s.publish(&PurchaseRefunded { access_ended: true, ..refund(&asked, "19.99", false) }).await;
    s.wait_balance(buyer, 0).await;

    // A goodwill 10.00 of 20.00 keeps access: half the tokens go.
    let goodwill = purchase(buyer, "20.00");
    s.publish(&goodwill).await;
    s.wait_balance(buyer, 30).await;
    s.publish(&refund(&goodwill, "10.00", false)).await;
    s.wait_balance(buyer, 15).await;

    // An event from before `access_ended` existed: `fully_refunded` decides (partial: proportional).
    let old = purchase(buyer, "20.00");
    s.publish(&old).await;
    s.wait_balance(buyer, 45).await;
    let mut envelope = CloudEvent::new(&refund(&old, "4.00", false), None).unwrap();
    envelope.data.as_object_mut().unwrap().remove("access_ended");
    // Off today's contract on purpose: the shape an older marketplace published.
    testkit::bus::publish_off_contract(&s.env, &envelope).await;
    s.wait_balance(buyer, 39).await;
    s.wait_drained().await;
    assert_eq!(s.balance_of(buyer).await, 39);
    s.assert_books_balance().await;
    s.stop().await;
}
