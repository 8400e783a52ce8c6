//! Issue 20, point 2: course promotion codes. An admin's code is funded by the platform (the
//! voucher rule), an instructor's from their own share; the limit holds under concurrency and an
//! unpaid purchase gives its redemption back.

use crate::support::Market;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

async fn create_code(m: &Market, who: (Uuid, Role), body: Value) -> reqwest::Response {
    let key = Uuid::new_v4().to_string();
    m.send(reqwest::Method::POST, who.0, &[who.1], "/api/courses/promotion-codes", body, Some(&key)).await
}

async fn buy_with(m: &Market, buyer: Uuid, course: &str, code: &str) -> reqwest::Response {
    let body = json!({ "course_id": course, "promotion_code": code });
    let key = Uuid::new_v4().to_string();
    m.send(reqwest::Method::POST, buyer, &[Role::Learner], "/api/courses/purchase", body, Some(&key)).await
}

fn amount(v: &Value) -> &str {
    v["amount"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructors_code_comes_out_of_their_share_and_a_refund_reverses_it() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.#"]).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let price = json!({"price": {"amount": "20.00", "currency": "USD"}});
    let course = m.course(alice, price.clone(), true).await;
    let course_id = course["id"].as_str().unwrap();
    let bobs = m.course(bob, price, true).await;
    let bobs_id = bobs["id"].as_str().unwrap();

    // Alice cannot fund a code for Bob's course, nor leave the courses open.
    let res = create_code(
        &m,
        (alice, Role::Instructor),
        json!({"code": "ALICE25", "percent_off": "25", "course_ids": [bobs_id]}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = create_code(&m, (alice, Role::Instructor), json!({"code": "ALICE25", "percent_off": "25"})).await;
    assert_eq!(res.status(), 422);
    let res = create_code(
        &m,
        (alice, Role::Instructor),
        json!({"code": "alice25", "percent_off": "25", "course_ids": [course_id]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let code: Value = res.json().await.unwrap();
    assert_eq!((&code["code"], &code["funded_by"]), (&json!("ALICE25"), &json!("instructor")));
    // Not on Bob's course, whatever the buyer tries.
    let res = buy_with(&m, Uuid::now_v7(), bobs_id, "ALICE25").await;
    assert_eq!(res.status(), 422);

    let buyer = Uuid::now_v7();
    let res = buy_with(&m, buyer, course_id, "Alice25").await;
    assert_eq!(res.status(), 201);
    let purchase: Value = res.json().await.unwrap();
    assert_eq!((amount(&purchase["discount"]), amount(&purchase["amount_paid"])), ("5.00", "15.00"), "{purchase}");
    assert_eq!(purchase["promotion_code"], "ALICE25");
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    // 15.00 paid: the platform keeps 30 % of the 20.00 list price, the instructor the rest.
    let sale = events.expect("marketplace.course.purchased.v1", Duration::from_secs(20)).await;
    assert_eq!(amount(&sale.data["gross"]), "15.00");
    assert_eq!((amount(&sale.data["instructor_share"]), amount(&sale.data["platform_share"])), ("9.00", "6.00"));

    // Refunded in full: exactly the booked shares come back.
    let billing = &m.billing.as_ref().unwrap().svc;
    let payment_id = purchase["payment_id"].as_str().unwrap();
    let res = m
        .http
        .post(format!("{}/api/payments/{payment_id}/refunds", billing.url()))
        .header("x-internal-token", testkit::internal_token("billing", &Uuid::now_v7().to_string(), &[Role::Admin]))
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"amount": "15.00", "reason": "requested_by_customer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let refunded = events.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    assert_eq!(amount(&refunded.data["refunded_amount"]), "15.00");
    assert_eq!(
        (amount(&refunded.data["instructor_reversal"]), amount(&refunded.data["platform_reversal"])),
        ("9.00", "6.00")
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_code_keeps_the_instructors_seventy_percent_of_the_list_price() {
    let m = Market::with_billing().await;
    let mut events = Capture::bind(&m.env, &["marketplace.course.purchased.v1"]).await;
    let admin = (Uuid::now_v7(), Role::Admin);
    let body = json!({"code": "PLAT5", "amount_off": {"USD": "5.00"}, "categories": ["programming"], "first_purchase_only": true});
    assert_eq!(create_code(&m, admin, body).await.status(), 201);
    let again = create_code(&m, admin, json!({"code": "plat5", "percent_off": "10"})).await;
    assert_eq!(again.status(), 409, "codes are unique case-insensitively");
    // A learner may not create codes.
    let learner = create_code(&m, (Uuid::now_v7(), Role::Learner), json!({"code": "MINE", "percent_off": "10"})).await;
    assert_eq!(learner.status(), 403);

    let instructor = Uuid::now_v7();
    let course = m.course(instructor, json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap();
    let buyer = Uuid::now_v7();
    let purchase: Value = buy_with(&m, buyer, course_id, "plat5").await.json().await.unwrap();
    assert_eq!(amount(&purchase["amount_paid"]), "15.00", "{purchase}");
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course_id).await;
    let sale = events.expect("marketplace.course.purchased.v1", Duration::from_secs(20)).await;
    assert_eq!((amount(&sale.data["instructor_share"]), amount(&sale.data["platform_share"])), ("14.00", "1.00"));
    // First purchase only: the same buyer's next purchase cannot use it.
    let second = m.course(instructor, json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    let res = buy_with(&m, buyer, second["id"].as_str().unwrap(), "PLAT5").await;
    assert_eq!(res.status(), 422);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_under_concurrency_and_a_declined_purchase_gives_its_redemption_back() {
    let m = Market::with_billing().await;
    let admin = (Uuid::now_v7(), Role::Admin);
    assert_eq!(
        create_code(&m, admin, json!({"code": "THREE", "percent_off": "50", "max_redemptions": 3})).await.status(),
        201
    );
    let course = m.course(Uuid::now_v7(), json!({"price": {"amount": "20.00", "currency": "USD"}}), true).await;
    let course_id = course["id"].as_str().unwrap().to_string();

    let attempts = (0..10).map(|_| {
        let (m, course_id) = (&m, course_id.clone());
        async move {
            let res = buy_with(m, Uuid::now_v7(), &course_id, "THREE").await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let won: Vec<&Value> = results.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    let lost = results.iter().filter(|(s, b)| *s == 409 && b["code"] == "redemption_limit_reached").count();
    assert_eq!((won.len(), lost), (3, 7), "{results:?}");

    // One of the three is declined: its purchase closes and the redemption is free again.
    m.confirm(won[0], "pm_card_chargeDeclined");
    testkit::eventually("the declined purchase's redemption comes back", Duration::from_secs(20), || async {
        (buy_with(&m, Uuid::now_v7(), &course_id, "THREE").await.status() == 201).then_some(())
    })
    .await;
    assert_eq!(buy_with(&m, Uuid::now_v7(), &course_id, "THREE").await.status(), 409);
    m.stop().await;
}

async fn list(m: &Market, who: (Uuid, Role), query: &str) -> reqwest::Response {
    m.get(Some((who.0, &[who.1])), &format!("/api/courses/promotion-codes{query}")).await
}

fn codes(page: &Value) -> Vec<&str> {
    page["data"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_listed_to_who_manages_them_and_a_deactivated_code_is_refused() {
    let m = Market::start().await;
    let (alice, bob) = ((Uuid::now_v7(), Role::Instructor), (Uuid::now_v7(), Role::Instructor));
    let admin = (Uuid::now_v7(), Role::Admin);
    let price = json!({"price": {"amount": "20.00", "currency": "USD"}});
    let course = m.course(alice.0, price.clone(), true).await;
    let course_id = course["id"].as_str().unwrap();
    let bobs = m.course(bob.0, price, true).await;
    let mut ids = std::collections::HashMap::new();
    for (who, code, course) in [
        (alice, "ALICE1", course_id),
        (alice, "ALICE2", course_id),
        (alice, "ALICE3", course_id),
        (bob, "BOB1", bobs["id"].as_str().unwrap()),
    ] {
        let res = create_code(&m, who, json!({"code": code, "percent_off": "10", "course_ids": [course]})).await;
        assert_eq!(res.status(), 201);
        ids.insert(code, res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    assert_eq!(create_code(&m, admin, json!({"code": "PLATFORM1", "percent_off": "10"})).await.status(), 201);

    // Alice sees her own codes only, newest first, a page at a time.
    let first: Value = list(&m, alice, "?limit=2").await.json().await.unwrap();
    assert_eq!(codes(&first), ["ALICE3", "ALICE2"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second: Value = list(&m, alice, &format!("?limit=2&cursor={cursor}")).await.json().await.unwrap();
    assert_eq!((codes(&second), &second["next_cursor"]), (vec!["ALICE1"], &Value::Null));
    // An admin sees every code; a learner none.
    let all: Value = list(&m, admin, "?limit=100").await.json().await.unwrap();
    let mut seen = codes(&all);
    seen.sort();
    assert_eq!(seen, ["ALICE1", "ALICE2", "ALICE3", "BOB1", "PLATFORM1"]);
    assert_eq!(list(&m, (Uuid::now_v7(), Role::Learner), "").await.status(), 403);
    assert_eq!(list(&m, alice, "?cursor=garbage").await.status(), 422);

    // Bob cannot deactivate Alice's code (nor learn that it exists); she can, twice, one change.
    let market = &m;
    let deactivate = |who: (Uuid, Role), code: &str| {
        let path = format!("/api/courses/promotion-codes/{}/deactivate", ids[code]);
        async move { market.send(reqwest::Method::POST, who.0, &[who.1], &path, json!({}), None).await }
    };
    assert_eq!(deactivate(bob, "ALICE1").await.status(), 404);
    assert_eq!(deactivate((Uuid::now_v7(), Role::Learner), "ALICE1").await.status(), 403);
    for _ in 0..2 {
        let res = deactivate(alice, "ALICE1").await;
        assert_eq!(res.status(), 200);
        let view: Value = res.json().await.unwrap();
        assert_eq!((&view["code"], &view["active"]), (&json!("ALICE1"), &json!(false)));
    }
    let audit = m
        .get(
            Some((admin.0, &[Role::Admin])),
            &format!("/api/admin/audit/marketplace?target=promotion_code:{}", ids["ALICE1"]),
        )
        .await;
    let entries: Value = audit.json().await.unwrap();
    let actions: Vec<&str> =
        entries["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["promotion_code.deactivate", "promotion_code.create"],
        "the second deactivation records nothing"
    );
    // An admin deactivates anyone's code.
    assert_eq!(deactivate(admin, "BOB1").await.status(), 200);

    // A purchase cannot take a deactivated code; an active one still works.
    let res = buy_with(&m, Uuid::now_v7(), course_id, "alice1").await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "promotion_code", "{problem}");
    let listed: Value = list(&m, alice, "").await.json().await.unwrap();
    let alice1 = listed["data"].as_array().unwrap().iter().find(|c| c["code"] == "ALICE1").unwrap();
    assert_eq!((&alice1["active"], &alice1["redeemed"]), (&json!(false), &json!(0)), "the refusal took nothing");
    m.stop().await;
}
