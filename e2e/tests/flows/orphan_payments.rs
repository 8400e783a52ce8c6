//! Contract V through the gateway: a declined first attempt, a second purchase paid, then the
//! first PaymentIntent confirmed again. Marketplace asks billing to void the first payment (when the
//! second purchase supersedes it, and again if it is charged anyway); the buyer owns the course
//! once, the instructor's sale is booked once, and the buyer pays once: billing either canceled the
//! first intent in time or refunds it in full.

use crate::support::{amount, intent_of, str_of, unique_word, Platform, User};
use serde_json::{json, Value};

const VOID: &str = "marketplace.payment.void_requested.v1";

/// A USD amount string ("20.00", "-20.00") in cents.
fn cents(amount: &str) -> i64 {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, "0"));
    let frac: i64 = format!("{frac:0<2}")[..2].parse().expect("cents");
    let whole: i64 = whole.parse().expect("units");
    whole * 100 + if whole < 0 || amount.starts_with('-') { -frac } else { frac }
}

struct Scenario {
    learner: User,
    instructor: User,
    course_id: String,
    first: Value,
    second: Value,
    /// Whether confirming the first intent again charged it (billing had not canceled it yet).
    charged_twice: bool,
}

async fn declined_then_bought_again_then_first_confirmed(p: &Platform) -> Scenario {
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} orphan payments", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let first = p.purchase(&learner, &course_id).await;
    p.confirm(&first["client_secret"], "pm_card_chargeDeclined");
    // Once marketplace has failed the first purchase, buying again starts a second one.
    let second = p
        .eventually("a second purchase", || async {
            let key = uuid::Uuid::new_v4().to_string();
            let res = p.post_key(&learner, "/api/courses/purchase", json!({"course_id": course_id}), &key).await;
            assert!(res.is_success(), "{}", res.body);
            (res.body["id"] != first["id"]).then_some(res.body)
        })
        .await;
    let superseded = p.events.wait_for(VOID, |d| d["payment_id"] == first["payment_id"]).await;
    assert_eq!(superseded.data["reason"], "purchase_superseded");
    assert_eq!(superseded.data["reference_id"], first["id"]);
    assert_eq!(superseded.data["user_id"], learner.id.to_string());

    p.confirm(&second["client_secret"], "pm_card_visa");
    p.wait_owned(&learner, &course_id).await;
    let again = p.fake.confirm_payment_intent(&intent_of(&first["client_secret"]), "pm_card_visa");
    let charged_twice = again.as_ref().is_ok_and(|pi| pi["status"] == "succeeded");
    if charged_twice {
        let payment = str_of(&first["payment_id"]);
        p.events.wait_for("billing.payment.succeeded.v1", |d| d["payment_id"] == payment.as_str()).await;
        // Marketplace heard of it: the payment it cannot use is handed back again.
        p.eventually("a void request after the second charge", || async {
            (p.events.distinct(VOID, |d| d["payment_id"] == payment.as_str()).len() >= 2).then_some(())
        })
        .await;
    }
    Scenario { learner, instructor, course_id, first, second, charged_twice }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconfirmed_first_intent_is_voided_and_the_course_is_owned_and_booked_once() {
    let p = Platform::start().await;
    let s = declined_then_bought_again_then_first_confirmed(&p).await;
    assert_eq!(p.owned(&s.learner, &s.course_id).await.len(), 1, "owned once");
    // Access is granted in the same transaction that writes the sale event to the outbox: the
    // event and the earnings line follow it asynchronously, so wait for them before counting.
    let buyer = s.learner.id.to_string();
    p.events.wait_for("marketplace.course.purchased.v1", |d| d["buyer_id"] == buyer.as_str()).await;
    let sold = p.events.distinct("marketplace.course.purchased.v1", |d| d["buyer_id"] == buyer.as_str());
    assert_eq!(sold.len(), 1, "one sale");
    assert_eq!(sold[0].data["purchase_id"], s.second["id"]);
    let earnings = p
        .eventually("the sale booked", || async {
            let earnings = p.get(Some(&s.instructor), "/api/instructors/me/earnings").await;
            assert_eq!(earnings.status, 200, "{}", earnings.body);
            let booked = earnings.body["data"].as_array().is_some_and(|d| d.iter().any(|l| l["kind"] == "sale"));
            booked.then_some(earnings)
        })
        .await;
    let sales: Vec<_> =
        earnings.body["data"].as_array().expect("data").iter().filter(|l| l["kind"] == "sale").collect();
    assert_eq!(sales.len(), 1, "booked once: {}", earnings.body);
    assert_eq!(amount(&sales[0]["amount"]), "14.00");
    p.eventually("tokens for the paid purchase", || async { (p.balance(&s.learner).await > 0).then_some(()) }).await;
    assert_eq!(p.transactions(&s.learner, "earn").await.len(), 1, "tokens once");
    p.stop().await;
}

/// Needs billing's consumer of the void request (contract V, billing's side).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_of_a_reconfirmed_first_intent_pays_once() {
    let p = Platform::start().await;
    let s = declined_then_bought_again_then_first_confirmed(&p).await;
    let payment = str_of(&s.first["payment_id"]);
    if s.charged_twice {
        let refund = p.events.wait_for("billing.payment.refunded.v1", |d| d["payment_id"] == payment.as_str()).await;
        assert_eq!(refund.data["fully_refunded"], true, "{}", refund.data);
        assert_eq!(refund.data["reason"], "unfulfillable", "{}", refund.data);
        assert_eq!(refund.data["initiated_by"], "system", "{}", refund.data);
        assert_eq!(refund.data["ends_access"], true, "{}", refund.data);
    } else {
        let pay = p.get(Some(&s.learner), &format!("/api/payments/{payment}")).await;
        assert_eq!(pay.body["status"], "canceled", "{}", pay.body);
    }
    // The buyer's history: the first payment's charge and refund (if it was charged), the second's
    // charge; what they paid in all is one price.
    let net = p
        .eventually("the history to net one price", || async {
            let res = p.get(Some(&s.learner), "/api/payments/history?limit=100").await;
            assert_eq!(res.status, 200, "{}", res.body);
            let lines = res.body["data"].as_array().expect("data").clone();
            let sum = |kind: &str| -> i64 {
                lines.iter().filter(|l| l["kind"] == kind).map(|l| cents(&amount(&l["amount"])).abs()).sum()
            };
            (sum("charge") - sum("refund") == 2000).then_some(lines)
        })
        .await;
    if s.charged_twice {
        let of_first =
            |kind: &str| net.iter().filter(|l| l["payment_id"] == payment.as_str() && l["kind"] == kind).count();
        assert_eq!((of_first("charge"), of_first("refund")), (1, 1), "{net:?}");
    }
    assert_eq!(p.owned(&s.learner, &s.course_id).await.len(), 1, "still owned once");
    p.stop().await;
}
