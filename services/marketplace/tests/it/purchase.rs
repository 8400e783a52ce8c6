use crate::support::Market;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

/// The purchase's status as stored (failed purchases are not listed anywhere a buyer looks).
pub async fn purchase_status(m: &Market, id: &str) -> String {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use marketplace::store::schema::purchases;
    let mut conn = m.svc.pool.get().await.unwrap();
    purchases::table
        .find(Uuid::parse_str(id).unwrap())
        .select(purchases::status)
        .first::<String>(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_finds_buys_with_a_test_card_gets_access_and_the_instructor_earns_seventy_percent() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let instructor = Uuid::now_v7();
    let course = m
        .course(
            instructor,
            json!({"title": "Payments with Rust", "price": {"amount": "9.99", "currency": "USD"}}),
            true,
        )
        .await;
    let course_id = course["id"].as_str().unwrap();

    let found = m.get_json(None, "/api/courses/list?q=payments").await;
    assert_eq!(found["data"][0]["id"], course_id);

    let buyer = Uuid::now_v7();
    let res = m.buy(buyer, course_id, "buy-1").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let purchase: Value = res.json().await.unwrap();
    assert_eq!(purchase["status"], "pending");
    assert_eq!(purchase["price"], json!({"amount": "9.99", "currency": "USD"}));
    assert!(purchase["client_secret"].as_str().unwrap().contains("_secret_"));

    // The price is snapshotted: a later change does not touch this purchase.
    let res = m
        .send(
            reqwest::Method::PATCH,
            instructor,
            &[Role::Instructor],
            &format!("/api/courses/{course_id}"),
            json!({"price": {"amount": "29.99", "currency": "USD"}}),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(m.owned(buyer).await.is_empty());

    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;

    let sold = events.expect("marketplace.course.purchased.v1", Duration::from_secs(10)).await;
    assert_eq!(sold.subject, purchase["id"].as_str().unwrap());
    assert_eq!(sold.data["gross"], json!({"amount": "9.99", "currency": "USD"}));
    assert_eq!(sold.data["instructor_share"], json!({"amount": "6.99", "currency": "USD"}));
    assert_eq!(sold.data["platform_share"], json!({"amount": "3.00", "currency": "USD"}));
    assert_eq!(sold.data["buyer_id"], buyer.to_string());
    assert!(sold.data["payment_id"].is_string());

    let earnings = m.earnings(instructor).await;
    assert_eq!(earnings["totals"][0]["currency"], "USD");
    assert_eq!(earnings["totals"][0]["by_status"]["pending"]["amount"], "6.99");
    assert_eq!(earnings["totals"][0]["by_status"]["available"]["amount"], "0.00");
    assert_eq!(earnings["data"][0]["kind"], "sale");

    let res = m.get(Some((buyer, &[Role::Learner])), &format!("/api/courses/{course_id}/content")).await;
    assert_eq!(res.status(), 200, "the buyer downloads the package");
    let res = m
        .post(
            buyer,
            &[Role::Learner],
            &format!("/api/courses/{course_id}/reviews"),
            json!({"rating": 5, "body": "Great"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_grants_nothing() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    let purchase: Value = m.buy(buyer, course_id, "declined").await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_chargeDeclined");
    let id = purchase["id"].as_str().unwrap().to_string();
    testkit::eventually("the purchase to fail", Duration::from_secs(20), || async {
        (purchase_status(&m, &id).await == "failed").then_some(())
    })
    .await;
    assert!(m.owned(buyer).await.is_empty());
    let res = m.get(Some((buyer, &[Role::Learner])), &format!("/api/courses/{course_id}/content")).await;
    assert_eq!(res.status(), 403);
    assert!(m.earnings(instructor).await["data"].as_array().unwrap().is_empty());
    let seen = events.drain(Duration::from_millis(500)).await;
    assert!(seen.iter().all(|e| e.event_type != "marketplace.course.purchased.v1"), "{seen:?}");

    // A failed purchase does not block buying again.
    let again = m.buy(buyer, course_id, "after-decline").await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["id"], purchase["id"]);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buying_twice_with_the_same_or_different_keys_is_one_purchase() {
    let m = Market::with_billing().await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();

    let first: Value = m.buy(buyer, course_id, "k1").await.json().await.unwrap();
    let replay = m.buy(buyer, course_id, "k1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], first["id"]);
    let other_key = m.buy(buyer, course_id, "k2").await;
    assert_eq!(other_key.status(), 200, "the pending purchase is returned");
    assert_eq!(other_key.json::<Value>().await.unwrap()["id"], first["id"]);
    let keys: Vec<String> = (3..9).map(|i| format!("k{i}")).collect();
    let concurrent = futures_util::future::join_all(keys.iter().map(|k| m.buy(buyer, course_id, k))).await;
    for res in concurrent {
        assert!(res.status() == 200 || res.status() == 201, "{}", res.status());
        assert_eq!(res.json::<Value>().await.unwrap()["id"], first["id"]);
    }
    let fake = &m.billing.as_ref().unwrap().fake;
    assert_eq!(fake.payment_intents().len(), 1, "one payment at billing");

    m.confirm(&first, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    let res = m.buy(buyer, course_id, "k-after").await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "already_owned");
    assert_eq!(m.owned(buyer).await.len(), 1);
    // The count follows its fold (within MARKETPLACE_PURCHASE_COUNT_FOLD_MS; run here at once).
    let mut conn = m.svc.pool.get().await.unwrap();
    marketplace::store::courses::PURCHASE_COUNT_FOLD.run_waiting_on(&mut conn).await.unwrap();
    drop(conn);
    let listed = m.get_json(None, &format!("/api/courses/{course_id}")).await;
    assert_eq!(listed["purchase_count"], 1);

    // Refused: one's own course, an unpublished one, a key reused for another course.
    let res = m.buy(instructor, course_id, "own").await;
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "own_course");
    let hidden = m.course(instructor, json!({}), true).await;
    let hidden_id = hidden["id"].as_str().unwrap();
    m.post(instructor, &[Role::Instructor], &format!("/api/courses/{hidden_id}/unpublish"), json!({})).await;
    let res = m.buy(buyer, hidden_id, "hidden").await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "course_not_published");
    let res = m.buy(buyer, hidden_id, "k1").await;
    assert_eq!(res.status(), 422, "same key, different body");
    let res = m
        .send(
            reqwest::Method::POST,
            buyer,
            &[Role::Learner],
            "/api/courses/purchase",
            json!({"course_id": course_id}),
            None,
        )
        .await;
    assert_eq!(res.status(), 400, "the key is required");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_course_completes_at_once_without_billing() {
    let m = Market::start().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    let res = m.buy(buyer, course_id, "free").await;
    assert_eq!(res.status(), 201);
    let purchase: Value = res.json().await.unwrap();
    assert_eq!(purchase["status"], "completed");
    assert!(purchase.get("client_secret").is_none());
    assert_eq!(m.owned(buyer).await, vec![course_id.to_string()]);
    let sold = events.expect("marketplace.course.purchased.v1", Duration::from_secs(10)).await;
    assert_eq!(sold.data["gross"]["amount"], "0.00");
    assert!(sold.data["payment_id"].is_null());
    assert!(m.earnings(instructor).await["data"].as_array().unwrap().is_empty());
    m.stop().await;
}

/// A course's launch: many learners buy it at once. Each completion records its purchase as a
/// delta instead of updating the course's row (where they queued, one commit at a time), and the
/// fold counts every one, once, whichever replica's fold ran and however many ran at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_of_one_course_at_once_are_each_counted_once() {
    let m = Market::start().await;
    let course = m.course(Uuid::now_v7(), json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyers: Vec<Uuid> = (0..12).map(|_| Uuid::now_v7()).collect();
    let fold = || async {
        let mut conn = m.svc.pool.get().await.unwrap();
        marketplace::store::courses::PURCHASE_COUNT_FOLD.run_on(&mut conn).await.expect("a fold fails")
    };
    let buys = futures_util::future::join_all(buyers.iter().map(|&b| m.buy(b, course_id, "launch")));
    let (answers, _, _) = tokio::join!(buys, fold(), fold());
    assert!(answers.iter().all(|r| r.status() == 201), "{:?}", answers.iter().map(|r| r.status()).collect::<Vec<_>>());
    // Two more at once: the one that gets the lock folds what is left, the other skips.
    let (a, b) = tokio::join!(fold(), fold());
    assert!(a == 0 || b == 0, "two folds ran at once: {a} and {b}");
    let listed = m.get_json(None, &format!("/api/courses/{course_id}")).await;
    assert_eq!(listed["purchase_count"], 12, "every purchase counted once");
    let mut conn = m.svc.pool.get().await.unwrap();
    let left: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::QueryDsl::count(marketplace::store::schema::course_purchase_deltas::table),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(left, 0, "deltas left after the fold");
    drop(conn);
    m.stop().await;
}

/// Billing unreachable: the purchase is answered 502 and stays pending without a payment (it was
/// recorded before billing was called, no transaction being held across the call); another try,
/// with the same key or another, resumes that one purchase instead of starting a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_down_leaves_one_pending_purchase_that_a_retry_resumes() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use marketplace::store::schema::purchases;
    let m = Market::start().await; // billing at a closed port
    let course = m.course(Uuid::now_v7(), json!({"price": {"amount": "15.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    for key in ["down-1", "down-1", "down-2"] {
        let res = m.buy(buyer, course_id, key).await;
        assert_eq!(res.status(), 502, "{key}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "billing_unavailable", "{key}");
    }
    let mut conn = m.svc.pool.get().await.unwrap();
    let rows: Vec<(String, Option<Uuid>)> = purchases::table
        .filter(purchases::buyer_id.eq(buyer))
        .select((purchases::status, purchases::payment_id))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, vec![("pending".to_string(), None)], "one purchase, no payment");
    drop(conn);
    let mine = m.get_json(Some((buyer, &[Role::Learner])), "/api/courses/mine").await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 0, "no access without a payment");
    m.stop().await;
}

/// A purchase looks up the buyer's declined purchases of the course to supersede them. That
/// lookup must use an index on buyer and course, not walk every unpaid purchase of everyone:
/// before `purchases_payable_failed` it scanned `purchases_open` and cost ~1 ms per purchase at
/// 6,000 open purchases, growing with the table (docs/performance.md, round 3). And it must do
/// so in the plan PostgreSQL keeps for the prepared statement, which is generic after five runs:
/// with the status bound as a parameter, that plan read the whole table (round 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookups_of_every_purchase_read_the_buyers_rows_only() {
    use diesel_async::RunQueryDsl;
    let m = Market::start().await;
    let course = m
        .course(Uuid::now_v7(), json!({"title": "Indexes", "price": {"amount": "5.00", "currency": "USD"}}), true)
        .await;
    let course_id = course["id"].as_str().unwrap();
    let mut conn = m.svc.pool.get().await.unwrap();
    // 5,000 unpaid purchases of other buyers (pending, and declined not closed), one declined of ours.
    let buyer = Uuid::now_v7();
    diesel::sql_query(format!(
        "INSERT INTO purchases (id, course_id, buyer_id, instructor_id, price, currency, status, split_rate) \
         SELECT gen_random_uuid(), '{course_id}', CASE WHEN i = 0 THEN '{buyer}'::uuid ELSE gen_random_uuid() END, \
           gen_random_uuid(), 5, 'USD', CASE WHEN i % 2 = 0 THEN 'failed' ELSE 'pending' END, 0.7 \
         FROM generate_series(0, 5000) AS i"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("ANALYZE purchases").execute(&mut conn).await.unwrap();
    // The statement `store::purchases::lock_payable_failed` sends, as PostgreSQL plans it once it
    // prepares it generically (after five runs): the partial index's `status = 'failed'` must be
    // in its text, not a parameter, or this plan reads the whole table (round 5).
    let query = marketplace::store::purchases::payable_failed_query(buyer, Uuid::parse_str(course_id).unwrap());
    let plan = testkit::plan::generic_plan(&mut conn, &query).await;
    assert!(plan.contains("purchases_payable_failed"), "the generic plan does not use the index:\n{plan}");
    assert!(!plan.contains("Seq Scan"), "the generic plan reads the whole table:\n{plan}");
    // And it finds the buyer's one declined purchase, and only it.
    let found = marketplace::store::purchases::lock_payable_failed(&conn, buyer, Uuid::parse_str(course_id).unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the buyer's declined purchase is not found");
    assert_eq!(found[0].buyer_id, buyer);
    // The buyer's live purchase, looked up on every purchase: `purchases_one_live`, generically too.
    let live = marketplace::store::purchases::live_query(buyer, Uuid::parse_str(course_id).unwrap());
    let plan = testkit::plan::generic_plan(&mut conn, &live).await;
    assert!(plan.contains("purchases_one_live"), "the live lookup's generic plan does not use its index:\n{plan}");
    assert!(!plan.contains("Seq Scan"), "the live lookup's generic plan reads the whole table:\n{plan}");
    drop(conn);
    m.stop().await;
}

/// The same lookups when the statistics say no purchase is open (ANALYZE ran before any was: a new
/// deployment, a quiet night) and thousands are: the plans PostgreSQL keeps must still read the
/// buyer's rows only. While the expiry sweep's index could answer them (`purchases_open`, before
/// marketplace migration 2026-12-22-100002), such a plan walked every open purchase of every buyer
/// on every purchase: `make bench`'s first purchase round after a fresh seed, 5.0 ms of CPU per
/// purchase against 2.9 once the next ANALYZE had run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyers_lookups_keep_to_their_indexes_when_the_statistics_saw_no_open_purchase() {
    use diesel_async::RunQueryDsl;
    const OPEN: i64 = 10_000;
    let m = Market::start().await;
    let course = m.course(Uuid::now_v7(), json!({"price": {"amount": "5.00", "currency": "USD"}}), true).await;
    let course_id = Uuid::parse_str(course["id"].as_str().unwrap()).unwrap();
    let mut conn = m.svc.pool.get().await.unwrap();
    // Statistics of a table with completed purchases only: both partial indexes below empty.
    for sql in [
        format!(
            "INSERT INTO purchases (id, course_id, buyer_id, instructor_id, price, currency, status, split_rate, \
                                    completed_at) \
             SELECT gen_random_uuid(), '{course_id}', gen_random_uuid(), gen_random_uuid(), 5, 'USD', 'completed', 0.7, \
                    now() \
             FROM generate_series(1, 5000)"
        ),
        "ANALYZE purchases".to_string(),
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    diesel::sql_query(format!(
        "INSERT INTO purchases (id, course_id, buyer_id, instructor_id, price, currency, status, split_rate, created_at) \
         SELECT gen_random_uuid(), '{course_id}', gen_random_uuid(), gen_random_uuid(), 5, 'USD', 'pending', 0.7, \
                now() - i * interval '1 second' \
         FROM generate_series(1, {OPEN}) AS i"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    // The general path's lookup of declined purchases, as PostgreSQL plans it after five runs.
    let query = marketplace::store::purchases::payable_failed_query(Uuid::now_v7(), course_id);
    let plan = testkit::plan::generic_plan(&mut conn, &query).await;
    assert!(plan.contains("purchases_payable_failed"), "the generic plan does not use the buyer's index:\n{plan}");
    // The one-statement purchase's lookups: its seventh run on this session (PL/pgSQL keeps a
    // generic plan after five) reads a few pages of the expiry sweep's index (its new purchase's
    // entry), not the pages of the 10,000 open purchases.
    let prepare = |n: usize| {
        format!(
            "SELECT purchase_prepare_once('purchases', 'plan-{n}', 'hash', '{}', '{course_id}', '{}', NULL, 0.7, now())",
            Uuid::now_v7(),
            Uuid::now_v7()
        )
    };
    for n in 0..6 {
        diesel::sql_query(prepare(n)).execute(&mut conn).await.unwrap();
    }
    let read = testkit::plan::index_pages_read(&mut conn, "purchases_expiry_due", &prepare(6)).await;
    let index_pages = testkit::plan::index_pages(&mut conn, "purchases_expiry_due").await;
    assert!(index_pages > 20, "the 10,000 open purchases fill {index_pages} pages of the expiry index");
    assert!(read <= 6, "one purchase read {read} of the expiry index's {index_pages} pages: a lookup walks it");
    drop(conn);
    m.stop().await;
}

/// The plain purchase (paid course, primary currency, nothing off, no earlier purchase) is two
/// one-statement steps whose answer is built before the statement that records it: it must be
/// what the general path answers from the stored row (`PurchaseView::new`), and what a replay
/// returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_purchase_answers_what_its_row_shows_and_a_replay_returns_it() {
    use diesel_async::RunQueryDsl;
    let m = Market::with_billing().await;
    let course = m.course(Uuid::now_v7(), json!({"price": {"amount": "12.50", "currency": "EUR"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    let res = m.buy(buyer, course_id, "plain-1").await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["status"], "pending");
    assert_eq!(answer["amount_paid"], json!({"amount": "12.50", "currency": "EUR"}));
    assert!(answer["payment_id"].is_string() && answer["client_secret"].is_string(), "{answer}");

    let mut conn = m.svc.pool.get().await.unwrap();
    let id = Uuid::parse_str(answer["id"].as_str().unwrap()).unwrap();
    let row = marketplace::store::purchases::lock(&conn, id).await.unwrap().expect("the purchase is stored");
    let from_row = serde_json::to_value(marketplace::routes::views::PurchaseView::new(&row).unwrap()).unwrap();
    assert_eq!(answer, from_row, "the one-statement answer differs from the row's view");
    let stored: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM idempotency_keys WHERE key = 'plain-1' AND response_status = 201)",
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(stored, 1, "the answer is recorded once");
    drop(conn);

    let replay = m.buy(buyer, course_id, "plain-1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), answer);
    m.stop().await;
}

/// `purchase_prepare_once` records a purchase only in the plain case, and answers `general`,
/// having written nothing, whenever the general path has a decision to make.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_statement_purchase_leaves_every_other_case_to_the_general_path() {
    use marketplace::store::purchase_once::{prepare, Prepare};
    use platform::idempotency::{Claim, IdempotencyKey};
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let paid = m.course(instructor, json!({"price": {"amount": "5.00", "currency": "USD"}}), true).await;
    let paid = Uuid::parse_str(paid["id"].as_str().unwrap()).unwrap();
    let free = m.course(instructor, json!({"price": {"amount": "0", "currency": "USD"}}), true).await;
    let free = Uuid::parse_str(free["id"].as_str().unwrap()).unwrap();
    let draft = m.course(instructor, json!({}), false).await;
    let draft = Uuid::parse_str(draft["id"].as_str().unwrap()).unwrap();
    let buyer = Uuid::now_v7();
    let mut conn = m.svc.pool.get().await.unwrap();
    let mut attempt = async |key: &str, buyer: Uuid, course: Uuid, currency: Option<&str>| {
        let claim = Claim::new("test:purchase", &IdempotencyKey(key.to_string()), &json!({"key": key}));
        let step = Prepare {
            claim: &claim,
            buyer,
            course,
            purchase_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes()),
            currency,
            split_rate: rust_decimal::Decimal::new(7, 1),
            at: chrono::Utc::now(),
        };
        prepare(&mut conn, &step).await.unwrap()
    };
    for (key, who, course, currency, why) in [
        ("own", instructor, paid, None, "one's own course"),
        ("free", buyer, free, None, "a free course completes at once"),
        ("draft", buyer, draft, None, "a draft"),
        ("missing", buyer, Uuid::now_v7(), None, "no such course"),
        ("other-currency", buyer, paid, Some("EUR"), "another currency"),
    ] {
        let returned = attempt(key, who, course, currency).await;
        assert_eq!(returned["outcome"], "general", "{why}: {returned}");
    }
    let returned = attempt("plain", buyer, paid, Some("USD")).await;
    assert_eq!(returned["outcome"], "created", "{returned}");
    assert_eq!((returned["price"].as_str(), returned["currency"].as_str()), (Some("5.0000"), Some("USD")));
    // Now the buyer has a live purchase: a second key, and the same key again, are the general
    // path's (the pending purchase returned; this key's purchase paid for).
    assert_eq!(attempt("second", buyer, paid, None).await["outcome"], "general");
    assert_eq!(attempt("plain", buyer, paid, Some("USD")).await["outcome"], "general");
    let rows: i64 = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use marketplace::store::schema::purchases;
        purchases::table.count().get_result(&mut conn).await.unwrap()
    };
    assert_eq!(rows, 1, "only the plain case wrote a purchase");
    // Their lookups are by key or partial index in every session, even one whose first calls met
    // empty tables (PL/pgSQL keeps a generic plan per session; round 13 found Seq Scans kept).
    let guarded: i64 = {
        use diesel_async::RunQueryDsl;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace \
              AND proname IN ('purchase_prepare_once', 'purchase_attach_payment_once', 'idempotency_claim') \
              AND 'enable_seqscan=off' = ANY (proconfig))",
        ))
        .get_result(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(guarded, 3, "a one-statement function may plan a Seq Scan");
    drop(conn);
    m.stop().await;
}
