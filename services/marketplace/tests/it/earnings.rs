use crate::support::{Market, Options};
use chrono::Duration as Days;
use platform::auth::Role;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

fn total(earnings: &Value, status: &str) -> String {
    earnings["totals"][0]["by_status"][status]["amount"].as_str().unwrap().to_string()
}

/// Buy `course_id` as a new buyer with a test card and wait for access; returns (buyer, payment id).
async fn paid_purchase(m: &Market, course_id: &str) -> (Uuid, String) {
    let buyer = Uuid::now_v7();
    let purchase: Value = m.buy(buyer, course_id, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    let mine = m.get_json(Some((buyer, &[Role::Learner])), "/api/courses/mine").await;
    (buyer, mine["data"][0]["purchase"]["payment_id"].as_str().unwrap().to_string())
}

/// An admin's goodwill refund: partial ones keep access (contract R).
async fn refund(m: &Market, payment: &str, amount: &str) {
    let billing = &m.billing.as_ref().unwrap().svc;
    let res = m
        .http
        .post(format!("{}/api/payments/{payment}/refunds", billing.url()))
        .header("x-internal-token", testkit::internal_token("billing", &Uuid::now_v7().to_string(), &[Role::Admin]))
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"amount": amount, "reason": "goodwill"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
}

async fn wait_for(m: &Market, instructor: Uuid, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    testkit::eventually(what, Duration::from_secs(20), || async {
        let e = m.earnings(instructor).await;
        check(&e).then_some(e)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earnings_mature_after_the_refund_window_are_paid_out_and_a_later_refund_nets_off() {
    let m = Market::start_with(Options {
        billing: true,
        rewards: false,
        tweak: Box::new(|c| {
            c.min_payout = Decimal::from(5);
            c.refund_window_days = 30;
        }),
    })
    .await;
    let mut events = Capture::bind(&m.env, &["marketplace.purchase.refunded.v1"]).await;
    let instructor = Uuid::now_v7();
    let me: &[Role] = &[Role::Instructor];
    let course = m.course(instructor, json!({"price": {"amount": "10.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let (buyer, payment) = paid_purchase(&m, course_id).await;
    let e = m.earnings(instructor).await;
    assert_eq!(total(&e, "pending"), "7.00");

    // Nothing available yet; a learner may not look at all.
    let res = m
        .send(
            reqwest::Method::POST,
            instructor,
            me,
            "/api/instructors/me/payouts",
            json!({"currency": "USD"}),
            Some("p0"),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "payout_below_minimum");
    assert_eq!(m.get(Some((buyer, &[Role::Learner])), "/api/instructors/me/earnings").await.status(), 403);
    assert_eq!(m.get(None, "/api/instructors/me/earnings").await.status(), 401);

    m.clock.advance(Days::days(29));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(total(&m.earnings(instructor).await, "pending"), "7.00", "still inside the window");
    m.clock.advance(Days::days(2));
    let e = wait_for(&m, instructor, "earnings to become available", |e| total(e, "available") == "7.00").await;
    assert_eq!(total(&e, "pending"), "0.00");

    let res = m
        .send(
            reqwest::Method::POST,
            instructor,
            me,
            "/api/instructors/me/payouts",
            json!({"currency": "USD"}),
            Some("p1"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let payout: Value = res.json().await.unwrap();
    assert_eq!(payout["amount"], json!({"amount": "7.00", "currency": "USD"}));
    let again = m
        .send(
            reqwest::Method::POST,
            instructor,
            me,
            "/api/instructors/me/payouts",
            json!({"currency": "USD"}),
            Some("p1"),
        )
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["id"], payout["id"]);
    assert_eq!(total(&m.earnings(instructor).await, "in_payout"), "7.00");

    let mark = format!("/api/marketplace/payouts/{}/mark-paid", payout["id"].as_str().unwrap());
    assert_eq!(m.post(instructor, me, &mark, json!({})).await.status(), 403);
    let admin = Uuid::now_v7();
    let paid: Value = m.post(admin, &[Role::Admin], &mark, json!({})).await.json().await.unwrap();
    assert_eq!(paid["status"], "paid");
    // Both steps are in the audit log, by their actors (the refused mark-paid and the replayed
    // request wrote nothing), and the chain holds.
    let log = format!("/api/admin/audit/marketplace?target=payout:{}", payout["id"].as_str().unwrap());
    let entries = m.get_json(Some((Uuid::now_v7(), &[Role::Admin])), &log).await;
    let entries = entries["data"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["payout.mark_paid", "payout.request"]);
    assert_eq!(entries[1]["actor_sub"], instructor.to_string());
    assert_eq!(entries[1]["changes"]["currency"], "USD");
    assert_eq!(
        entries[1]["changes"]["amount"].as_str().map(|a| a.parse::<Decimal>().unwrap()),
        Some(Decimal::new(7, 0))
    );
    assert_eq!(entries[0]["actor_sub"], admin.to_string());
    assert_eq!(entries[0]["changes"]["before"]["status"], "requested");
    assert_eq!(entries[0]["changes"]["after"]["status"], "paid");
    let mut conn = m.svc.pool.get().await.unwrap();
    assert_eq!(platform::audit::verify(&mut conn).await.unwrap().broken, None);
    drop(conn);
    let e = m.earnings(instructor).await;
    assert_eq!((total(&e, "paid"), total(&e, "in_payout")), ("7.00".into(), "0.00".into()));

    // Refunded after the payout, in two parts: negative adjustments, access kept until the end.
    refund(&m, &payment, "4.00").await;
    let partial = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(partial.data["instructor_reversal"]["amount"], "2.80");
    assert_eq!(partial.data["platform_reversal"]["amount"], "1.20");
    assert_eq!(partial.data["fully_refunded"], false);
    assert_eq!(m.owned(buyer).await.len(), 1);
    refund(&m, &payment, "6.00").await;
    let full = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(full.data["instructor_reversal"]["amount"], "4.20");
    assert_eq!(full.data["platform_reversal"]["amount"], "1.80");
    assert_eq!(full.data["fully_refunded"], true);
    assert!(m.owned(buyer).await.is_empty(), "a full refund revokes access");
    let e = m.earnings(instructor).await;
    assert_eq!(total(&e, "available"), "-7.00");
    let refunds: Vec<&Value> = e["data"].as_array().unwrap().iter().filter(|l| l["kind"] == "refund").collect();
    assert_eq!(refunds.len(), 2);

    // The next sale matures and its payout nets the adjustment off: 14.00 - 7.00.
    let bigger = m.course(instructor, json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    paid_purchase(&m, bigger["id"].as_str().unwrap()).await;
    m.clock.advance(Days::days(31));
    wait_for(&m, instructor, "the second sale to mature", |e| total(e, "available") == "7.00").await;
    let res = m
        .send(
            reqwest::Method::POST,
            instructor,
            me,
            "/api/instructors/me/payouts",
            json!({"currency": "USD"}),
            Some("p2"),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["amount"]["amount"], "7.00");
    assert_eq!(total(&m.earnings(instructor).await, "available"), "0.00");
    m.stop().await;
}
