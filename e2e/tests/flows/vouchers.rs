//! Issue 15, point 1: a reward voucher (rewards) spent at checkout (marketplace), through the
//! gateway: the split on the list price, the refund of what was paid, the voucher given back.

use crate::support::{amount, str_of, unique_word, Platform, User};
use serde_json::{json, Value};
use uuid::Uuid;

/// Give `learner` the tokens for a course voucher (admin award) and redeem them; returns the code.
async fn voucher(p: &Platform, learner: &User) -> String {
    let award = json!({"user_id": learner.id, "amount": 300, "reason": "e2e: a course voucher"});
    let awarded = p.post_key(&User::admin(), "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
    assert_eq!(awarded.status, 201, "{}", awarded.body);
    let redeemed =
        p.post_key(learner, "/api/tokens/redeem", json!({"item": "course_voucher"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    assert_eq!(amount(&redeemed.body["voucher"]["value"]), "5.00");
    str_of(&redeemed.body["voucher"]["code"])
}

async fn purchase_with(p: &Platform, buyer: &User, course_id: &str, code: &str) -> crate::support::Res {
    let body = json!({"course_id": course_id, "voucher_code": code});
    p.post_key(buyer, "/api/courses/purchase", body, &Uuid::new_v4().to_string()).await
}

fn refused(res: &crate::support::Res, code: &str) {
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(res.body["code"], code, "{}", res.body);
    assert_eq!(res.body["errors"][0]["field"], "voucher_code", "{}", res.body);
}

async fn earnings_lines(p: &Platform, instructor: &User) -> Vec<Value> {
    let res = p.get(Some(instructor), "/api/instructors/me/earnings").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["data"].as_array().expect("data").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_pays_part_of_a_course_its_refund_reverses_the_split_and_gives_the_voucher_back() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let admin = User::admin();
    let word = unique_word();
    let dear = str_of(&p.publish_course(&instructor, &format!("{word} vouchers in depth"), "19.99").await["id"]);
    let cheap = str_of(&p.publish_course(&instructor, &format!("{word} vouchers in brief"), "4.00").await["id"]);
    let code = voucher(&p, &learner).await;

    // Only its owner may use it; an unknown code reads the same.
    refused(&purchase_with(&p, &User::learner(), &dear, &code).await, "voucher_not_found");
    refused(&purchase_with(&p, &learner, &dear, "RW-0000-0000-0000-0000").await, "voucher_not_found");
    assert!(p.owned(&learner, &dear).await.is_empty());

    // 19.99 - 5.00: the buyer pays 14.99.
    let res = purchase_with(&p, &learner, &dear, &code.to_lowercase()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let purchase = res.body;
    assert_eq!(purchase["status"], "pending");
    assert_eq!(amount(&purchase["price"]), "19.99");
    assert_eq!(amount(&purchase["discount"]), "5.00");
    assert_eq!(amount(&purchase["amount_paid"]), "14.99");
    assert_eq!(purchase["voucher_code_prefix"], &code[..7], "only the prefix of a code is kept");
    // Held by this purchase: a second purchase cannot use it.
    refused(&purchase_with(&p, &learner, &cheap, &code).await, "voucher_used");

    p.confirm(&purchase["client_secret"], "pm_card_visa");
    p.wait_owned(&learner, &dear).await;
    let purchase_id = str_of(&purchase["id"]);
    let payment_id = str_of(&purchase["payment_id"]);
    // The instructor's 70 % is of the list price; the platform's share absorbs the discount.
    let sold = p.events.wait_for("marketplace.course.purchased.v1", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(amount(&sold.data["gross"]), "14.99");
    assert_eq!(amount(&sold.data["instructor_share"]), "13.99");
    assert_eq!(amount(&sold.data["platform_share"]), "1.00");
    let receipt = p.get(Some(&learner), &format!("/api/payments/{payment_id}/receipt")).await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    assert_eq!(amount(&receipt.body["amount"]), "14.99", "{}", receipt.body);
    let lines = earnings_lines(&p, &instructor).await;
    assert_eq!(amount(&lines.iter().find(|l| l["kind"] == "sale").expect("sale")["amount"]), "13.99");
    // Spent: still refused elsewhere once the purchase completed.
    refused(&purchase_with(&p, &learner, &cheap, &code).await, "voucher_used");

    // A refund gives back what was paid and reverses each share exactly.
    let refunds = format!("/api/payments/{payment_id}/refunds");
    let refund =
        p.post_key(&admin, &refunds, json!({"reason": "requested_by_customer"}), &Uuid::new_v4().to_string()).await;
    assert!(refund.is_success(), "{} {}", refund.status, refund.body);
    assert_eq!(amount(&refund.body["amount"]), "14.99");
    let reversed =
        p.events.wait_for("marketplace.purchase.refunded.v1", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(amount(&reversed.data["refunded_amount"]), "14.99");
    assert_eq!(amount(&reversed.data["instructor_reversal"]), "13.99");
    assert_eq!(amount(&reversed.data["platform_reversal"]), "1.00");
    let released =
        p.events.wait_for("marketplace.voucher.released.v2", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(released.data["reason"], "refunded");
    assert_eq!(released.data["voucher_code_prefix"], &code[..7]);

    // The voucher is back: it covers the 4.00 course entirely, which completes at once, unpaid.
    let covered = p
        .eventually("the released voucher is accepted again", || async {
            let res = purchase_with(&p, &learner, &cheap, &code).await;
            (res.status == 201).then_some(res.body)
        })
        .await;
    assert_eq!(covered["status"], "completed", "{covered}");
    assert_eq!(amount(&covered["amount_paid"]), "0.00");
    assert_eq!(amount(&covered["discount"]), "4.00");
    assert!(covered["payment_id"].is_null(), "{covered}");
    assert_eq!(p.owned(&learner, &cheap).await.len(), 1);
    let free = p.events.wait_for("marketplace.course.purchased.v1", |d| d["course_id"] == cheap.as_str()).await;
    assert_eq!(amount(&free.data["gross"]), "0.00");
    assert_eq!(amount(&free.data["instructor_share"]), "2.80");
    assert_eq!(amount(&free.data["platform_share"]), "-2.80");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_voucher_purchase_releases_it_and_a_remainder_below_the_minimum_is_waived() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let word = unique_word();
    let course = str_of(&p.publish_course(&instructor, &format!("{word} declines"), "9.99").await["id"]);
    let almost = str_of(&p.publish_course(&instructor, &format!("{word} remainders"), "5.49").await["id"]);
    let code = voucher(&p, &learner).await;

    let res = purchase_with(&p, &learner, &course, &code).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(amount(&res.body["amount_paid"]), "4.99");
    let purchase_id = str_of(&res.body["id"]);
    p.confirm(&res.body["client_secret"], "pm_card_chargeDeclined");
    let released =
        p.events.wait_for("marketplace.voucher.released.v2", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(released.data["reason"], "payment_failed");

    // 5.49 - 5.00 leaves 0.49, below Stripe's 0.50 USD minimum: waived, nothing to pay.
    let waived = p
        .eventually("the released voucher is accepted again", || async {
            let res = purchase_with(&p, &learner, &almost, &code).await;
            (res.status == 201).then_some(res.body)
        })
        .await;
    assert_eq!(waived["status"], "completed", "{waived}");
    assert_eq!(amount(&waived["discount"]), "5.49");
    assert_eq!(amount(&waived["amount_paid"]), "0.00");
    assert!(waived["payment_id"].is_null());
    p.wait_owned(&learner, &almost).await;
    // The declined purchase never completes; the voucher is now spent.
    assert!(p.owned(&learner, &course).await.is_empty());
    refused(&purchase_with(&p, &learner, &course, &code).await, "voucher_used");
    p.stop().await;
}
