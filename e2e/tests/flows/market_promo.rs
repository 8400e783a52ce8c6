//! Issue 20, points 2 and 7, through the gateway: an instructor's promotion code on a course
//! bought in its second currency. The discount comes out of the instructor's share (the platform
//! keeps 30 % of the list price), billing charges in that currency, and a refund reverses both
//! shares exactly.

use crate::support::{amount, str_of, unique_word, Platform, User};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructors_code_on_a_course_bought_in_euros_comes_out_of_their_share_and_its_refund_reverses_it() {
    let p = Platform::start().await;
    let (instructor, learner, admin) = (User::instructor(), User::learner(), User::admin());
    let course = str_of(&p.publish_course(&instructor, &format!("{} promotions", unique_word()), "20.00").await["id"]);
    let prices = json!({"prices": [{"amount": "18.00", "currency": "EUR"}]});
    let res = p.call(Method::PATCH, &format!("/api/courses/{course}"), Some(&instructor), Some(prices), None).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // The instructor funds a code for their own course; a learner cannot create one.
    let terms = json!({"code": format!("E2E{}", &Uuid::new_v4().simple().to_string()[..8]).to_uppercase(),
                       "percent_off": "25", "course_ids": [course]});
    let refused =
        p.post_key(&learner, "/api/courses/promotion-codes", terms.clone(), &Uuid::new_v4().to_string()).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let created =
        p.post_key(&instructor, "/api/courses/promotion-codes", terms.clone(), &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["funded_by"], "instructor", "{}", created.body);
    let code = str_of(&terms["code"]);

    // Bought in EUR: 18.00 less 25 % = 13.50 paid.
    let body = json!({"course_id": course, "currency": "EUR", "promotion_code": code.to_lowercase()});
    let res = p.post_key(&learner, "/api/courses/purchase", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let purchase = res.body;
    assert_eq!(amount(&purchase["price"]), "18.00", "{purchase}");
    assert_eq!(amount(&purchase["discount"]), "4.50", "{purchase}");
    assert_eq!(amount(&purchase["amount_paid"]), "13.50");
    assert_eq!(purchase["amount_paid"]["currency"], "EUR", "{purchase}");
    p.confirm(&purchase["client_secret"], "pm_card_visa");
    p.wait_owned(&learner, &course).await;
    let purchase_id = str_of(&purchase["id"]);
    let payment_id = str_of(&purchase["payment_id"]);

    // The platform keeps 30 % of the 18.00 list price (5.40); the instructor's share carries the
    // discount (8.10). All in EUR.
    let sold = p.events.wait_for("marketplace.course.purchased.v1", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(amount(&sold.data["gross"]), "13.50");
    assert_eq!(sold.data["gross"]["currency"], "EUR");
    assert_eq!(amount(&sold.data["instructor_share"]), "8.10");
    assert_eq!(amount(&sold.data["platform_share"]), "5.40");
    let receipt = p.get(Some(&learner), &format!("/api/payments/{payment_id}/receipt")).await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    assert_eq!(amount(&receipt.body["amount"]), "13.50", "{}", receipt.body);
    assert_eq!(receipt.body["amount"]["currency"], "EUR", "{}", receipt.body);
    // The discount shows on the receipt as its own line.
    let lines: Vec<(String, String)> = receipt.body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| (str_of(&l["kind"]), amount(&l["amount"])))
        .collect();
    assert_eq!(lines, [("course".to_string(), "18.00".to_string()), ("discount".to_string(), "-4.50".to_string())]);
    let charged: Vec<(i64, String)> = p
        .fake
        .payment_intents()
        .iter()
        .filter(|pi| pi["amount"] == 1350)
        .map(|pi| (pi["amount"].as_i64().unwrap_or(0), str_of(&pi["currency"])))
        .collect();
    assert_eq!(charged, vec![(1350, "eur".to_string())], "Stripe charged 13.50 EUR once");

    // Refunded in full: each share comes back exactly, in EUR.
    let refunds = format!("/api/payments/{payment_id}/refunds");
    let refund =
        p.post_key(&admin, &refunds, json!({"reason": "requested_by_customer"}), &Uuid::new_v4().to_string()).await;
    assert!(refund.is_success(), "{} {}", refund.status, refund.body);
    let reversed =
        p.events.wait_for("marketplace.purchase.refunded.v1", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(amount(&reversed.data["refunded_amount"]), "13.50");
    assert_eq!(amount(&reversed.data["instructor_reversal"]), "8.10");
    assert_eq!(amount(&reversed.data["platform_reversal"]), "5.40");
    p.stop().await;
}
