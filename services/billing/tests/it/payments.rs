use crate::support::Stack;
use platform::auth::Role;
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_with_a_test_card_ends_with_receipt_history_and_event() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "19.99").await;
    assert_eq!(payment["status"], "requires_payment_method");
    assert!(payment["client_secret"].as_str().unwrap().contains("_secret_"));
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");

    let paid = s.wait_status(buyer, &id, "succeeded").await;
    let number = paid["receipt_number"].as_str().unwrap();
    assert!(number.starts_with("RCPT-"), "{number}");
    let event = s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    assert_eq!(event.subject, id);
    assert_eq!(event.data["amount"], serde_json::json!({"amount": "19.99", "currency": "USD"}));
    assert_eq!(event.data["user_id"], buyer.to_string());
    assert_eq!(event.data["purpose"], "course_purchase");
    assert_eq!(event.data["receipt_number"], number);

    let receipt: Value =
        s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await.json().await.unwrap();
    assert_eq!(receipt["receipt_number"], number);
    assert_eq!(receipt["amount"]["amount"], "19.99");
    assert_eq!(receipt["payment_method"]["brand"], "visa");
    assert_eq!(receipt["payment_method"]["last4"], "4242");
    assert_eq!(receipt["merchant"]["name"], "Learning Platform Inc.");
    let html = s
        .http
        .get(s.url(&format!("/api/payments/{id}/receipt")))
        .header("accept", "text/html")
        .header("x-internal-token", testkit::internal_token("billing", &buyer.to_string(), &[Role::Learner]))
        .send()
        .await
        .unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().await.unwrap();
    assert!(html.contains(number) && html.contains("4242") && html.contains("19.99"));

    let history: Value = s.get_as(buyer, &[Role::Learner], "/api/payments/history").await.json().await.unwrap();
    assert_eq!(history["data"].as_array().unwrap().len(), 1);
    assert_eq!(history["data"][0]["kind"], "charge");
    assert_eq!(history["data"][0]["payment_id"], id.as_str());
    assert!(history["next_cursor"].is_null());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_card_fails_the_payment_without_a_receipt() {
    let mut s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "5.00").await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_chargeDeclined");
    let event = s.events.expect("billing.payment.failed.v1", Duration::from_secs(10)).await;
    assert_eq!(event.subject, id);
    assert!(event.data["failure_code"].as_str().is_some());
    let p = s.payment(buyer, &id).await;
    assert_eq!(p["status"], "requires_payment_method");
    assert!(p["receipt_number"].is_null());
    let res = s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "receipt_not_available");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_returns_the_same_payment() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let first: Value = s.create_payment(buyer, "7.50", "purchase-42").await.json().await.unwrap();
    let again = s.create_payment(buyer, "7.50", "purchase-42").await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(s.fake.payment_intents().len(), 1);
    let other = s.create_payment(buyer, "8.00", "purchase-42").await;
    assert_eq!(other.status(), 422);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_failing_or_timing_out_is_retried_with_the_same_key_and_charges_once() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    // First a 500, then a response that arrives after the client's timeout: both retried.
    s.fake.fail_next(1, 500);
    let p1 = s.create_payment(buyer, "3.00", "k-500").await;
    assert_eq!(p1.status(), 201);
    s.fake.delay_next(1, Duration::from_millis(1_500));
    let p2 = s.create_payment(buyer, "4.00", "k-timeout").await;
    assert_eq!(p2.status(), 201);
    let intents = s.fake.payment_intents();
    assert_eq!(intents.len(), 2, "one PaymentIntent per payment, despite the retries");
    assert_eq!(s.fake.customers().len(), 1);
    // Three objects, two of them after a retry: five calls in all.
    let calls = s.fake.call_count("POST /v1/customers") + s.fake.call_count("POST /v1/payment_intents");
    assert_eq!(calls, 5, "{:?}", s.fake.call_counts());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_cannot_read_a_payment_or_its_receipt() {
    let s = Stack::start().await;
    let alice = Uuid::now_v7();
    let bob = Uuid::now_v7();
    let payment = s.new_payment(alice, "9.99").await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(alice, &id, "succeeded").await;
    for path in [format!("/api/payments/{id}"), format!("/api/payments/{id}/receipt")] {
        let res = s.get_as(bob, &[Role::Learner], &path).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = s.get_as(bob, &[Role::Learner], &format!("/api/payments/history?user_id={alice}")).await;
    assert_eq!(res.status(), 403);
    let admin: Value = s
        .get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/payments/history?user_id={alice}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["data"].as_array().unwrap().len(), 1);
    // A payer's own payment shows, but never the client secret to an admin.
    let seen: Value =
        s.get_as(Uuid::now_v7(), &[Role::Admin], &format!("/api/payments/{id}")).await.json().await.unwrap();
    assert!(seen.get("client_secret").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_numbers_have_no_gaps_when_payments_succeed_concurrently() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let mut payments = Vec::new();
    for _ in 0..12 {
        payments.push(s.new_payment(buyer, "1.00").await);
    }
    std::thread::scope(|scope| {
        for p in &payments {
            scope.spawn(|| s.confirm(p, "pm_card_visa"));
        }
    });
    let mut numbers = Vec::new();
    for p in &payments {
        let paid = s.wait_status(buyer, p["id"].as_str().unwrap(), "succeeded").await;
        numbers.push(paid["receipt_number"].as_str().unwrap().to_string());
    }
    let mut seq: Vec<i64> = numbers.iter().map(|n| n.rsplit('-').next().unwrap().parse().unwrap()).collect();
    seq.sort();
    let first = seq[0];
    assert_eq!(seq, (first..first + 12).collect::<Vec<_>>(), "{numbers:?}");
    s.stop().await;
}

/// The HTML receipt is a page a browser renders on the API's origin: it carries the policy that
/// forbids every script (`platform::html`), and a hostile value (here the operator's merchant
/// settings; in production also a course title) arrives escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_receipt_carries_the_security_headers_and_escapes_hostile_values() {
    let hostile = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
    let s = Stack::start_with(|c| {
        c.merchant_name = hostile.into();
        c.merchant_address = hostile.into();
    })
    .await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "7.50").await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(buyer, &id, "succeeded").await;
    let res = s
        .http
        .get(s.url(&format!("/api/payments/{id}/receipt")))
        .header("accept", "text/html")
        .header("x-internal-token", testkit::internal_token("billing", &buyer.to_string(), &[Role::Learner]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["content-security-policy"], platform::html::CONTENT_SECURITY_POLICY);
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
    assert_eq!(html.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img").count(), 2, "{html}");
    s.stop().await;
}

/// A payment without billing details is created in two one-statement steps whose answer is
/// built before the statement that records it: it must be what the general path answers from the
/// stored row (`PaymentView::new`), and a replay returns it. A new customer is remembered with
/// it, and the next payment reuses that customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_payment_answers_what_its_row_shows_and_remembers_its_customer() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let res = s.create_payment(buyer, "7.50", "plain-1").await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["status"], "requires_payment_method");
    assert!(answer["client_secret"].as_str().unwrap().contains("_secret_"));

    let mut conn = s.svc.pool.get().await.unwrap();
    let id = Uuid::parse_str(answer["id"].as_str().unwrap()).unwrap();
    let row = billing::store::payments::find(&mut conn, id).await.unwrap().expect("the payment is stored");
    let from_row = serde_json::to_value(billing::routes::views::PaymentView::new(&row, true).unwrap()).unwrap();
    assert_eq!(answer, from_row, "the one-statement answer differs from the row's view");
    assert_eq!(row.amount, rust_decimal::Decimal::new(750, 2));
    let customer = billing::store::customers::find(&conn, buyer).await.unwrap();
    assert_eq!(customer.as_deref(), s.fake.customers()[0]["id"].as_str(), "the new customer is kept");
    // Its lookups are by primary key in every session (round 13: Seq Scans kept from empty tables).
    let guarded: i64 = {
        use diesel_async::RunQueryDsl;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace \
              AND proname IN ('payment_plan_once', 'idempotency_claim') AND 'enable_seqscan=off' = ANY (proconfig))",
        ))
        .get_result(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(guarded, 2, "a one-statement function may plan a Seq Scan");
    drop(conn);

    let replay = s.create_payment(buyer, "7.50", "plain-1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), answer);
    let second = s.create_payment(buyer, "3.00", "plain-2").await;
    assert_eq!(second.status(), 201);
    assert_eq!(s.fake.customers().len(), 1, "the second payment reuses the customer");
    assert_eq!(s.fake.payment_intents().len(), 2);
    s.stop().await;
}
