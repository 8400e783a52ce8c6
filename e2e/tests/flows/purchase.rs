//! Flows 1 and 2: a course purchase to receipt, access, instructor earnings and buyer tokens; a
//! refund reversing all of them.

use crate::support::{amount, str_of, unique_word, Platform, User};
use serde_json::{json, Value};

/// The instructor's earnings in USD: totals by status and the lines.
async fn earnings(p: &Platform, instructor: &User) -> (Value, Vec<Value>) {
    let res = p.get(Some(instructor), "/api/instructors/me/earnings").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let totals = res.body["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .find(|t| t["currency"] == "USD")
        .map(|t| t["by_status"].clone())
        .unwrap_or(Value::Null);
    (totals, res.body["data"].as_array().expect("data").clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_purchase_to_receipt_access_earnings_and_tokens() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let word = unique_word();
    let course = p.publish_course(&instructor, &format!("{word} payments in Rust"), "20.00").await;
    let course_id = str_of(&course["id"]);

    // The learner finds it by full-text search (a public route: no token needed).
    let found = p.get(None, &format!("/api/courses/list?q={word}")).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["data"][0]["id"], course_id.as_str(), "{}", found.body);

    // Purchase with an Idempotency-Key; a retry with the same key is the same purchase.
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"course_id": course_id});
    let first = p.post_key(&learner, "/api/courses/purchase", body.clone(), &key).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["status"], "pending");
    let again = p.post_key(&learner, "/api/courses/purchase", body, &key).await;
    assert!(again.is_success(), "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    let purchase_id = str_of(&first.body["id"]);
    let payment_id = str_of(&first.body["payment_id"]);
    let content = format!("/api/courses/{course_id}/content");
    assert_eq!(p.get(Some(&learner), &content).await.status, 403, "no access before paying");

    p.confirm(&first.body["client_secret"], "pm_card_visa");

    // Access.
    let owned = p.wait_owned(&learner, &course_id).await;
    assert_eq!(owned["purchase"]["status"], "completed");
    assert_eq!(amount(&owned["purchase"]["price"]), "20.00");
    assert_eq!(p.get(Some(&learner), &content).await.status, 200, "the buyer downloads the package");

    // Receipt.
    let receipt = p
        .eventually("the receipt", || async {
            let r = p.get(Some(&learner), &format!("/api/payments/{payment_id}/receipt")).await;
            (r.status == 200).then_some(r.body)
        })
        .await;
    assert_eq!(receipt["payment_id"], payment_id.as_str());
    assert_eq!(amount(&receipt["amount"]), "20.00");
    assert!(receipt["receipt_number"].as_str().is_some_and(|n| !n.is_empty()), "{receipt}");
    let stranger = User::learner();
    assert_eq!(p.get(Some(&stranger), &format!("/api/payments/{payment_id}/receipt")).await.status, 404);

    // The instructor's 70%, pending for the refund window.
    let (totals, lines) = p
        .eventually("the instructor's pending earnings", || async {
            let (totals, lines) = earnings(&p, &instructor).await;
            (totals["pending"]["amount"] == "14.00").then_some((totals, lines))
        })
        .await;
    assert_eq!(amount(&totals["available"]), "0.00");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["kind"], "sale");
    assert_eq!(lines[0]["purchase_id"], purchase_id.as_str());
    assert_eq!(p.get(Some(&learner), "/api/instructors/me/earnings").await.status, 403);

    // Past the refund window (marketplace's clock), the share becomes available for payout.
    p.marketplace_clock.advance(chrono::Duration::days(31));
    p.eventually("earnings available after the refund window", || async {
        let (totals, _) = earnings(&p, &instructor).await;
        (totals["available"]["amount"] == "14.00" && totals["pending"]["amount"] == "0.00").then_some(())
    })
    .await;

    // The buyer's tokens, on every leaderboard.
    let balance = p
        .eventually("tokens for the purchase", || async {
            let b = p.balance(&learner).await;
            (b > 0).then_some(b)
        })
        .await;
    let earned = p.transactions(&learner, "earn").await;
    assert_eq!(earned.len(), 1, "{earned:?}");
    assert_eq!(earned[0]["reference"], purchase_id.as_str());
    for board in ["global", "weekly", "friends"] {
        let res = p.get(Some(&learner), &format!("/api/leaderboard/{board}")).await;
        assert_eq!(res.status, 200, "{board}: {}", res.body);
        assert_eq!(res.body["me"]["score"], balance, "{board}: {}", res.body);
        assert_eq!(res.body["me"]["rank"], 1, "{board}: {}", res.body);
        if board == "weekly" {
            let week = platform::clock::Clock::now(p.rewards_clock.as_ref()).format("%G-W%V").to_string();
            assert_eq!(res.body["week"], week.as_str(), "the week of rewards' clock");
        }
        let listed = res.body["data"].as_array().expect("data").iter().any(|r| r["user_id"] == learner.id.to_string());
        assert!(listed, "{board}: {}", res.body);
    }

    // What the services told each other.
    let paid = p.events.wait_for("billing.payment.succeeded.v1", |d| d["payment_id"] == payment_id.as_str()).await;
    assert_eq!(paid.data["user_id"], learner.id.to_string());
    let sold = p.events.wait_for("marketplace.course.purchased.v1", |d| d["purchase_id"] == purchase_id.as_str()).await;
    assert_eq!(amount(&sold.data["gross"]), "20.00");
    assert_eq!(amount(&sold.data["instructor_share"]), "14.00");
    assert_eq!(amount(&sold.data["platform_share"]), "6.00");
    let awarded = p.events.wait_for("rewards.tokens.awarded.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(awarded.data["amount"], balance);
    assert_eq!(awarded.data["kind"], "earn");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_reverses_access_earnings_and_tokens() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let admin = User::admin();
    let course = p.publish_course(&instructor, &format!("{} refunds explained", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let bought = p.buy(&learner, &course_id).await;
    let tokens = p.balance(&learner).await;
    let refunds = format!("/api/payments/{}/refunds", bought.payment_id);

    // Only an admin (or the buyer, in the window) refunds; a stranger is refused.
    let body = json!({"reason": "requested_by_customer"});
    let stranger = p.post_key(&User::learner(), &refunds, body.clone(), "refund-stranger").await;
    assert!(stranger.status == 403 || stranger.status == 404, "{}", stranger.status);
    let refund = p.post_key(&admin, &refunds, body, &uuid::Uuid::new_v4().to_string()).await;
    assert!(refund.is_success(), "{} {}", refund.status, refund.body);
    assert_eq!(amount(&refund.body["amount"]), "20.00");

    // Access revoked.
    p.eventually("access revoked", || async {
        let gone = p.owned(&learner, &course_id).await.is_empty();
        let denied = p.get(Some(&learner), &format!("/api/courses/{course_id}/content")).await.status == 403;
        (gone && denied).then_some(())
    })
    .await;

    // Earnings reversed: a negative line of the same 70%, nothing left pending.
    let lines = p
        .eventually("earnings reversed", || async {
            let (totals, lines) = earnings(&p, &instructor).await;
            (totals["pending"]["amount"] == "0.00").then_some(lines)
        })
        .await;
    let reversal = lines.iter().find(|l| l["kind"] == "refund").expect("a refund line");
    assert_eq!(amount(&reversal["amount"]), "-14.00");

    // Tokens clawed back, and off the leaderboard.
    p.eventually("tokens clawed back", || async { (p.balance(&learner).await == 0).then_some(()) }).await;
    let clawed = p.transactions(&learner, "clawback").await;
    assert_eq!(clawed.len(), 1, "{clawed:?}");
    assert_eq!(clawed[0]["amount"], -tokens);
    let global = p.get(Some(&learner), "/api/leaderboard/global").await;
    assert_eq!(global.body["me"]["score"], 0, "{}", global.body);

    // The receipt shows the refund.
    let receipt = p.get(Some(&learner), &format!("/api/payments/{}/receipt", bought.payment_id)).await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    assert_eq!(amount(&receipt.body["total_refunded"]), "20.00");

    let refunded =
        p.events.wait_for("billing.payment.refunded.v1", |d| d["payment_id"] == bought.payment_id.as_str()).await;
    assert_eq!(refunded.data["user_id"], learner.id.to_string());
    let reversed = p
        .events
        .wait_for("marketplace.purchase.refunded.v1", |d| d["purchase_id"] == bought.purchase_id.as_str())
        .await;
    assert_eq!(reversed.data["fully_refunded"], true);
    assert_eq!(amount(&reversed.data["instructor_reversal"]), "14.00");
    assert_eq!(amount(&reversed.data["platform_reversal"]), "6.00");
    let clawback = p.events.wait_for("rewards.tokens.clawed_back.v1", |d| d["user_id"] == learner.id.to_string()).await;
    assert_eq!(clawback.data["amount"], tokens);
    p.stop().await;
}
