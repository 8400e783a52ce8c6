//! Issue 20, point 5, across periods through the gateway with the real stripe-fake: a German
//! customer with a 20 %-off-forever promotion code subscribes to Pro in December, upgrades to
//! Enterprise mid-period and renews three times into the next year. Every charge has an invoice:
//! numbered gap-free per year in issue order (the series restarts in January), with the plan,
//! proration credit and charge, discount and tax lines; a refund has a credit note (CN-...); the
//! PDFs read back with poppler. Subscriptions' and billing's clocks move together.

use crate::coupons::coupon_with_code;
use crate::subscription::me;
use crate::support::{intent_of, str_of, Platform, User};
use chrono::{DateTime, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use testkit::pdf::{poppler, read_pdf};
use uuid::Uuid;

fn at(v: &Value) -> DateTime<Utc> {
    str_of(v).parse().expect("RFC 3339")
}

/// Both clocks that date a charge: subscriptions' (what is due) and billing's (the invoice's year).
fn set_clocks(p: &Platform, t: DateTime<Utc>) {
    p.billing_clock.set(t);
    p.subscriptions_clock.set(t);
}

async fn invoices(p: &Platform, user: &User) -> Vec<Value> {
    let res = p.get(Some(user), "/api/payments/invoices?limit=100").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["data"].as_array().expect("a page").clone()
}

/// The user's invoices once there are `n`, oldest first.
async fn wait_invoices(p: &Platform, user: &User, n: usize) -> Vec<Value> {
    let mut list = p
        .eventually(&format!("{n} invoices"), || async {
            let list = invoices(p, user).await;
            (list.len() == n).then_some(list)
        })
        .await;
    list.reverse();
    list
}

/// `kind: amount` of each line.
fn lines(invoice: &Value) -> Vec<String> {
    let lines = invoice["lines"].as_array().expect("lines");
    lines.iter().map(|l| format!("{}: {}", str_of(&l["kind"]), str_of(&l["amount"]["amount"]))).collect()
}

fn sums(invoice: &Value) -> (String, String, String) {
    let a = |k: &str| str_of(&invoice[k]["amount"]);
    (a("subtotal"), str_of(&invoice["tax"]["amount"]["amount"]), a("total"))
}

/// A document as a PDF, through the gateway.
async fn pdf(p: &Platform, user: &User, path: &str) -> Vec<u8> {
    let res = testkit::http()
        .get(p.url(path))
        .bearer_auth(&user.token)
        .header("accept", "application/pdf")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.expect("a body").to_vec();
    assert!(bytes.starts_with(b"%PDF-"));
    bytes
}

fn assert_reads(bytes: &[u8], title: &str, expected: &[&str], total: &str) {
    if !poppler() {
        eprintln!("SKIPPED the PDF read-back: poppler-utils (pdftotext, pdfinfo) cannot be installed here");
        return;
    }
    let text = read_pdf(bytes, title);
    for e in expected {
        assert!(text.contains(e), "{e:?} missing from the PDF text of {title}:\n{text}");
    }
    assert!(text.lines().any(|l| l.contains("Total") && l.contains(total)), "{title}: total {total}\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_across_periods_are_numbered_per_year_with_proration_discount_tax_and_a_credit_note() {
    let p = Platform::start().await;
    // December 10th, 2030, 10:00 UTC: a 31-day period to January 10th, 2031.
    let start = Utc.with_ymd_and_hms(2030, 12, 10, 10, 0, 0).unwrap();
    set_clocks(&p, start);
    let admin = User::admin();
    let rate = json!({"country": "DE", "percentage": "19", "inclusive": false, "display_name": "VAT"});
    let res = p.post(&admin, "/api/admin/tax-rates", rate).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let terms = json!({"name": "Twenty forever", "percent_off": "20", "duration": "forever"});
    coupon_with_code(&p, &admin, terms, "DEPTH20").await;

    let ada = User::learner();
    let details = json!({
        "name": "Ada Lovelace",
        "address": {"line1": "1 Engine Way", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "business": false,
    });
    let res = p.call(Method::PUT, "/api/payments/billing-details", Some(&ada), Some(details), None).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // Pro less 20 %: 9.99 - 2.00 = 7.99 net, 19 % VAT 1.52, 9.51 charged.
    let body = json!({"tier": "pro", "promotion_code": "DEPTH20"});
    let res = p.post_key(&ada, "/api/subscriptions", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    p.fake.confirm_payment_intent(&intent_of(&res.body["client_secret"]), "pm_card_visa").expect("the card pays");
    let first = &wait_invoices(&p, &ada, 1).await[0];
    assert_eq!(first["number"], "INV-2030-000001");
    assert_eq!(lines(first), ["plan: 9.99", "discount: -2.00"]);
    assert_eq!(sums(first), ("7.99".into(), "1.52".into(), "9.51".into()));
    assert_eq!(first["tax"]["name"], "VAT");
    p.eventually("the subscription active", || async {
        (me(&p, &ada).await["subscription"]["status"] == "active").then_some(())
    })
    .await;

    // Ten days in, Enterprise: 21 of 31 days left. The unused Pro is worth 9.99 * 21/31 = 6.77,
    // Enterprise for the rest 67.07 (60.30, the prorated difference at list prices). The coupon
    // covers this period, so the customer pays the prorated difference of what they pay:
    // (79.20 - 7.99) * 21/31 = 48.24 net, a 12.06 discount line; 9.17 VAT, 57.41.
    set_clocks(&p, start + chrono::Duration::days(10));
    let up = p.post_key(&ada, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), "up").await;
    assert_eq!(up.status, 200, "{}", up.body);
    let list = wait_invoices(&p, &ada, 2).await;
    let upgrade = &list[1];
    assert_eq!(upgrade["number"], "INV-2030-000002");
    assert_eq!(lines(upgrade), ["proration_credit: -6.77", "proration_charge: 67.07", "discount: -12.06"]);
    assert_eq!(sums(upgrade), ("48.24".into(), "9.17".into(), "57.41".into()));
    let charged: Vec<i64> = p.fake.payment_intents().iter().filter_map(|pi| pi["amount"].as_i64()).collect();
    assert!(charged.contains(&5741), "Stripe took net + tax: {charged:?}");

    // Three renewals into 2031, each at its period end: Enterprise less 20 % (99.00 - 19.80 =
    // 79.20 net, 15.05 VAT, 94.25), numbered 1, 2, 3 of the new year.
    for (n, month) in [(3, 1), (4, 2), (5, 3)] {
        set_clocks(&p, Utc.with_ymd_and_hms(2031, month, 10, 10, 0, 1).unwrap());
        let list = wait_invoices(&p, &ada, n).await;
        let renewal = &list[n - 1];
        assert_eq!(renewal["number"], format!("INV-2031-{:06}", n - 2), "{renewal}");
        assert_eq!(lines(renewal), ["plan: 99.00", "discount: -19.80"], "{renewal}");
        assert_eq!(sums(renewal), ("79.20".into(), "15.05".into(), "94.25".into()));
    }
    let list = wait_invoices(&p, &ada, 5).await;
    let numbers: Vec<String> = list.iter().map(|i| str_of(&i["number"])).collect();
    assert_eq!(
        numbers,
        ["INV-2030-000001", "INV-2030-000002", "INV-2031-000001", "INV-2031-000002", "INV-2031-000003"],
        "gap-free per year, in issue order"
    );
    assert!(list.windows(2).all(|w| at(&w[0]["issued_at"]) < at(&w[1]["issued_at"])), "{list:?}");
    assert!(list.iter().all(|i| i["customer"]["name"] == "Ada Lovelace"));

    // The upgrade's and the last renewal's PDFs read back.
    let upgrade_pdf = pdf(&p, &ada, &format!("/api/payments/invoices/{}", str_of(&list[1]["id"]))).await;
    let expected = ["INV-2030-000002", "Unused time on Pro", "-6.77 USD", "67.07 USD", "VAT 19%", "9.17 USD"];
    assert_reads(&upgrade_pdf, "INV-2030-000002", &expected, "57.41 USD");
    let last = &list[4];
    let last_pdf = pdf(&p, &ada, &format!("/api/payments/invoices/{}", str_of(&last["id"]))).await;
    assert_reads(&last_pdf, "INV-2031-000003", &["99.00 USD", "-19.80 USD", "15.05 USD"], "94.25 USD");

    // The last renewal refunded in full: a credit note of the same amounts, its own series.
    let refund = format!("/api/payments/{}/refunds", str_of(&last["payment_id"]));
    let res = p.post_key(&admin, &refund, json!({"reason": "requested_by_customer"}), "refund-last").await;
    assert!(res.is_success(), "{} {}", res.status, res.body);
    let note = p
        .eventually("a credit note", || async {
            let res = p.get(Some(&ada), "/api/payments/credit-notes").await;
            assert_eq!(res.status, 200, "{}", res.body);
            res.body["data"].as_array().and_then(|d| d.first().cloned())
        })
        .await;
    assert_eq!(note["number"], "CN-2031-000001");
    assert_eq!(note["invoice_number"], "INV-2031-000003");
    assert_eq!(sums(&note), ("79.20".into(), "15.05".into(), "94.25".into()));
    let note_pdf = pdf(&p, &ada, &format!("/api/payments/credit-notes/{}", str_of(&note["id"]))).await;
    assert_reads(&note_pdf, "CN-2031-000001", &["INV-2031-000003", "15.05 USD"], "94.25 USD");
    // Another learner sees none of it.
    let other = User::learner();
    let res = p.get(Some(&other), &format!("/api/payments/invoices/{}", str_of(&last["id"]))).await;
    assert_eq!(res.status, 404, "{}", res.body);
    p.stop().await;
}
