//! Issue 20, points 5 and 6: billing details, tax rates, tax at payment creation (exclusive,
//! inclusive, reverse charge), invoices and credit notes as JSON, HTML and PDF (read back with
//! poppler's pdftotext/pdfinfo), gap-free numbering per year under concurrency, the tax report.

use crate::support::Stack;
use chrono::{TimeZone, Utc};
use platform::auth::Role;
use platform::clock::ManualClock;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::pdf::{poppler, read_pdf};
use uuid::Uuid;

fn token(user: Uuid, roles: &[Role]) -> String {
    testkit::internal_token("billing", &user.to_string(), roles)
}

async fn put_details(s: &Stack, user: Uuid, body: Value) -> reqwest::Response {
    s.http
        .put(s.url("/api/payments/billing-details"))
        .header("x-internal-token", token(user, &[Role::Learner]))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn details(country: &str, business: bool, vat_id: Option<&str>) -> Value {
    json!({
        "name": "Ada Lovelace",
        "company": if business { Some("Analytical Engines GmbH") } else { None },
        "address": {"line1": "1 Engine Way", "city": "Berlin", "postal_code": "10115", "country": country},
        "vat_id": vat_id,
        "business": business,
    })
}

async fn add_rate(s: &Stack, country: &str, percentage: &str, inclusive: bool, name: &str) -> reqwest::Response {
    s.http
        .post(s.url("/api/admin/tax-rates"))
        .header("x-internal-token", token(Uuid::now_v7(), &[Role::Admin]))
        .json(&json!({"country": country, "percentage": percentage, "inclusive": inclusive, "display_name": name}))
        .send()
        .await
        .unwrap()
}

/// A subscription charge of `amount` with `lines`, as subscriptions would ask for it.
async fn charge(s: &Stack, user: Uuid, amount: &str, lines: Value) -> Value {
    let res = s
        .http
        .post(s.url("/internal/payments"))
        .header("x-internal-token", testkit::service_token("subscriptions", "billing"))
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({
            "user_id": user,
            "amount": {"amount": amount, "currency": "USD"},
            "purpose": "subscription",
            "reference_id": Uuid::now_v7().to_string(),
            "description": "Pro plan",
            "lines": lines,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

async fn paid_charge(s: &Stack, user: Uuid, amount: &str, lines: Value) -> Value {
    let payment = charge(s, user, amount, lines).await;
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(user, payment["id"].as_str().unwrap(), "succeeded").await
}

async fn invoices_of(s: &Stack, user: Uuid) -> Vec<Value> {
    let page: Value = s.get_as(user, &[Role::Learner], "/api/payments/invoices?limit=100").await.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

async fn fetch(s: &Stack, user: Uuid, path: &str, accept: &str) -> reqwest::Response {
    s.http
        .get(s.url(path))
        .header("accept", accept)
        .header("x-internal-token", token(user, &[Role::Learner]))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclusive_tax_is_charged_on_top_invoiced_as_its_own_line_and_credited_back() {
    let mut s = Stack::start().await;
    let user = Uuid::now_v7();
    assert_eq!(add_rate(&s, "DE", "19", false, "VAT").await.status(), 201);
    let res = put_details(&s, user, details("DE", false, None)).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);

    // 12.99 plan - 3.00 discount = 9.99 net; 19 % of it is 1.8981 -> 1.90; Stripe charges 11.89.
    let lines = json!([
        {"kind": "plan", "description": "Pro <monthly>", "amount": "12.99"},
        {"kind": "discount", "description": "SPRING & co", "amount": "-3.00"},
    ]);
    let payment = charge(&s, user, "9.99", lines.clone()).await;
    assert_eq!(payment["amount"], json!({"amount": "11.89", "currency": "USD"}));
    assert_eq!(payment["tax"], json!({"amount": "1.90", "currency": "USD"}));
    let intent = s.intent_of(&payment);
    let at_stripe = s.fake.payment_intents().into_iter().find(|pi| pi["id"] == intent.as_str()).unwrap();
    assert_eq!(at_stripe["amount"], 1189, "Stripe charges net + tax");
    s.confirm(&payment, "pm_card_visa");
    let id = payment["id"].as_str().unwrap().to_string();
    s.wait_status(user, &id, "succeeded").await;

    // Consumers count revenue: the event's amount is net, the tax beside it.
    let event = s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    assert_eq!(event.data["amount"], json!({"amount": "9.99", "currency": "USD"}));
    assert_eq!(event.data["tax"], json!({"amount": "1.90", "currency": "USD"}));

    let invoices = invoices_of(&s, user).await;
    assert_eq!(invoices.len(), 1);
    let invoice = &invoices[0];
    let number = invoice["number"].as_str().unwrap().to_string();
    assert!(number.starts_with("INV-") && number.ends_with("-000001"), "{number}");
    assert_eq!(invoice["payment_id"], id.as_str());
    assert_eq!(invoice["lines"].as_array().unwrap().len(), 2);
    assert_eq!(invoice["lines"][1]["kind"], "discount");
    assert_eq!(invoice["lines"][1]["amount"]["amount"], "-3.00");
    assert_eq!(invoice["subtotal"]["amount"], "9.99");
    assert_eq!((&invoice["tax"]["name"], &invoice["tax"]["percentage"]), (&json!("VAT"), &json!("19")));
    assert_eq!(invoice["tax"]["amount"]["amount"], "1.90");
    assert_eq!(invoice["total"]["amount"], "11.89");
    assert_eq!(invoice["customer"]["name"], "Ada Lovelace");
    assert_eq!(invoice["seller"]["country"], "IE");
    let path = format!("/api/payments/invoices/{}", invoice["id"].as_str().unwrap());

    let html = fetch(&s, user, &path, "text/html").await;
    assert_eq!(html.status(), 200);
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().await.unwrap();
    assert!(html.contains(&number) && html.contains("11.89 USD") && html.contains("VAT 19%"), "{html}");
    assert!(html.contains("Pro &lt;monthly&gt;") && html.contains("SPRING &amp; co"), "escaped: {html}");
    assert!(!html.contains("<script") && !html.contains("<monthly>"), "{html}");

    let pdf = fetch(&s, user, &path, "application/pdf").await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    if poppler() {
        let text = read_pdf(&pdf, &number);
        for expected in [number.as_str(), "Pro <monthly>", "12.99 USD", "-3.00 USD", "9.99 USD", "VAT 19%", "1.90 USD"]
        {
            assert!(text.contains(expected), "{expected:?} missing from the PDF text:\n{text}");
        }
        assert!(text.lines().any(|l| l.contains("Total") && l.contains("11.89 USD")), "{text}");
    } else {
        eprintln!("SKIPPED the PDF read-back: poppler-utils (pdftotext, pdfinfo) cannot be installed here");
    }

    // Someone else's invoice is a 404; an admin reads it.
    assert_eq!(fetch(&s, Uuid::now_v7(), &path, "application/json").await.status(), 404);
    let admin = s.get_as(Uuid::now_v7(), &[Role::Admin], &path).await;
    assert_eq!(admin.status(), 200);

    // A partial refund of 5.95 (gross): 5.00 net and 0.95 tax go back, on a credit note.
    let admin_id = Uuid::now_v7();
    let body = json!({"amount": "5.95", "reason": "goodwill"});
    let res = s.refund(admin_id, &[Role::Admin], &id, body, "cn-1").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let refunded = s.events.expect("billing.payment.refunded.v1", Duration::from_secs(10)).await;
    assert_eq!(refunded.data["amount"]["amount"], "9.99", "net");
    assert_eq!(refunded.data["refunded_amount"]["amount"], "5.00");
    assert_eq!(refunded.data["tax"]["amount"], "0.95");
    // The rest: the parts add up to the invoice exactly.
    let res = s.refund(admin_id, &[Role::Admin], &id, json!({"reason": "requested_by_customer"}), "cn-2").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let last = s.events.expect("billing.payment.refunded.v1", Duration::from_secs(10)).await;
    assert_eq!(last.data["refunded_amount"]["amount"], "4.99");
    assert_eq!(last.data["tax"]["amount"], "0.95");
    assert_eq!(last.data["total_refunded"]["amount"], "9.99");
    assert_eq!(last.data["fully_refunded"], true);

    let notes: Value = testkit::eventually("two credit notes", Duration::from_secs(10), || async {
        let page: Value = s.get_as(user, &[Role::Learner], "/api/payments/credit-notes").await.json().await.unwrap();
        (page["data"].as_array().unwrap().len() == 2).then_some(page)
    })
    .await;
    let notes = notes["data"].as_array().unwrap();
    assert!(notes.iter().all(|n| n["invoice_number"] == number.as_str()));
    let numbers: BTreeSet<&str> = notes.iter().map(|n| n["number"].as_str().unwrap()).collect();
    assert!(numbers.iter().all(|n| n.starts_with("CN-")), "{numbers:?}");
    assert!(numbers.iter().any(|n| n.ends_with("-000001")) && numbers.iter().any(|n| n.ends_with("-000002")));
    let totals: Vec<&str> = notes.iter().map(|n| n["total"]["amount"].as_str().unwrap()).collect();
    assert_eq!(totals, ["5.94", "5.95"], "newest first: {notes:?}");
    let note_path = format!("/api/payments/credit-notes/{}", notes[1]["id"].as_str().unwrap());
    let note_pdf = fetch(&s, user, &note_path, "application/pdf").await.bytes().await.unwrap();
    if poppler() {
        let text = read_pdf(&note_pdf, notes[1]["number"].as_str().unwrap());
        assert!(text.contains(&number) && text.contains("5.95 USD") && text.contains("0.95 USD"), "{text}");
    }
    assert_eq!(fetch(&s, Uuid::now_v7(), &note_path, "application/json").await.status(), 404);

    // The tax report: 1.90 invoiced and 1.90 credited for Germany.
    let report: Value = s
        .get_as(
            Uuid::now_v7(),
            &[Role::Admin],
            "/api/admin/reports/payments/tax?from=2020-01-01T00:00:00Z&to=2040-01-01T00:00:00Z&interval=month",
        )
        .await
        .json()
        .await
        .unwrap();
    let rows: Vec<&Value> = report["data"].as_array().unwrap().iter().filter(|r| r["country"] == "DE").collect();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!((&rows[0]["tax_invoiced"], &rows[0]["tax_credited"]), (&json!("1.90"), &json!("1.90")), "{report}");
    assert_eq!((&rows[0]["invoices"], &rows[0]["credit_notes"]), (&json!(1), &json!(2)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inclusive_tax_is_computed_out_and_an_eu_business_abroad_is_reverse_charged() {
    let mut s = Stack::start().await;
    assert_eq!(add_rate(&s, "GB", "20", true, "VAT").await.status(), 201);
    assert_eq!(add_rate(&s, "AT", "20", false, "USt").await.status(), 201);

    let brit = Uuid::now_v7();
    assert_eq!(put_details(&s, brit, details("GB", false, None)).await.status(), 200);
    let paid = paid_charge(&s, brit, "12.00", json!([])).await;
    assert_eq!(paid["amount"]["amount"], "12.00", "inclusive: the price is what is charged");
    assert_eq!(paid["tax"]["amount"], "2.00");
    let event = s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    assert_eq!((&event.data["amount"]["amount"], &event.data["tax"]["amount"]), (&json!("10.00"), &json!("2.00")));
    let invoice = &invoices_of(&s, brit).await[0];
    assert_eq!(invoice["lines"][0]["amount"]["amount"], "12.00", "one line of the description, tax in it");
    assert_eq!((&invoice["subtotal"]["amount"], &invoice["total"]["amount"]), (&json!("10.00"), &json!("12.00")));
    assert_eq!(invoice["tax"]["inclusive"], true);

    // An Austrian business with a well-formed VAT id buying from an Irish seller: no VAT.
    let firm = Uuid::now_v7();
    assert_eq!(put_details(&s, firm, details("AT", true, Some("ATU12345678"))).await.status(), 200);
    let paid = paid_charge(&s, firm, "99.00", json!([])).await;
    assert_eq!(paid["amount"]["amount"], "99.00");
    assert!(paid.get("tax").is_none(), "{paid}");
    let event = s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;
    assert!(event.data.get("tax").is_none(), "no tax field when none: {}", event.data);
    let invoice = &invoices_of(&s, firm).await[0];
    assert_eq!(invoice["tax"]["reverse_charge"], true);
    assert_eq!(invoice["tax"]["amount"]["amount"], "0.00");
    assert_eq!(invoice["customer"]["vat_id"], "ATU12345678");
    let path = format!("/api/payments/invoices/{}", invoice["id"].as_str().unwrap());
    let html = fetch(&s, firm, &path, "text/html").await.text().await.unwrap();
    assert!(html.contains("Reverse charge"), "{html}");

    // The same business as a consumer (no business flag) pays Austrian VAT.
    assert_eq!(put_details(&s, firm, details("AT", false, Some("ATU12345678"))).await.status(), 200);
    let paid = paid_charge(&s, firm, "10.00", json!([])).await;
    assert_eq!((&paid["amount"]["amount"], &paid["tax"]["amount"]), (&json!("12.00"), &json!("2.00")));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_details_and_tax_rates_are_validated_and_guarded() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    assert_eq!(s.get_as(user, &[Role::Learner], "/api/payments/billing-details").await.status(), 404);
    for (body, field) in [
        (details("XX", false, None), "address.country"),
        (details("de", false, None), "address.country"),
        (details("DE", true, Some("DE12345")), "vat_id"),
        (json!({"name": " ", "address": {"line1": "x", "city": "y", "country": "DE"}}), "name"),
    ] {
        let res = put_details(&s, user, body).await;
        assert_eq!(res.status(), 422);
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let res = put_details(
        &s,
        user,
        json!({"name": "A", "address": {"line1": "x", "city": "y", "country": "DE"}, "role": "admin"}),
    )
    .await;
    assert_eq!(res.status(), 422, "unknown fields are refused");
    assert_eq!(s.get_as(user, &[Role::Learner], "/api/payments/billing-details").await.status(), 404, "no change");
    let ok = put_details(&s, user, details("DE", true, Some("de 123 456 789"))).await;
    let saved: Value = ok.json().await.unwrap();
    assert_eq!((&saved["vat_id"], &saved["vat_id_format_valid"]), (&json!("DE 123 456 789"), &json!(true)));
    // Only one's own: another user sees none.
    assert_eq!(s.get_as(Uuid::now_v7(), &[Role::Learner], "/api/payments/billing-details").await.status(), 404);

    // Tax rates: admins only, validated, one active per place, deactivated not deleted.
    let learner = s
        .http
        .post(s.url("/api/admin/tax-rates"))
        .header("x-internal-token", token(user, &[Role::Learner]))
        .json(&json!({"country": "DE", "percentage": "19", "inclusive": false, "display_name": "VAT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(learner.status(), 403);
    assert_eq!(add_rate(&s, "DE", "100", false, "VAT").await.status(), 422);
    assert_eq!(add_rate(&s, "ZZ", "19", false, "VAT").await.status(), 422);
    let created: Value = add_rate(&s, "DE", "19", false, "VAT").await.json().await.unwrap();
    let again = add_rate(&s, "DE", "7", false, "VAT").await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.json::<Value>().await.unwrap()["code"], "tax_rate_exists");
    assert_eq!(put_details(&s, user, details("DE", false, None)).await.status(), 200);
    let taxed = charge(&s, user, "10.00", json!([])).await;
    assert_eq!(taxed["tax"]["amount"], "1.90");
    let off = s
        .http
        .post(s.url(&format!("/api/admin/tax-rates/{}/deactivate", created["id"].as_str().unwrap())))
        .header("x-internal-token", token(Uuid::now_v7(), &[Role::Admin]))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let untaxed = charge(&s, user, "10.00", json!([])).await;
    assert!(untaxed.get("tax").is_none() && untaxed["amount"]["amount"] == "10.00", "{untaxed}");
    let rates: Value = s.get_as(Uuid::now_v7(), &[Role::Admin], "/api/admin/tax-rates").await.json().await.unwrap();
    assert_eq!(rates.as_array().unwrap().len(), 1);
    assert_eq!(rates[0]["active"], false);
    s.stop().await;
}

/// Invoice numbers: gap-free and distinct when payments succeed concurrently, and restarting at
/// 000001 in a new year (the service clock crosses the year boundary between two periods).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_numbers_are_gap_free_per_year_under_concurrency() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap());
    let s = Stack::start_at(&clock).await;
    let user = Uuid::now_v7();
    let payments: Vec<Value> =
        futures_util::future::join_all((0..6).map(|_| charge(&s, user, "9.99", json!([])))).await;
    for p in &payments {
        s.confirm(p, "pm_card_visa");
    }
    for p in &payments {
        s.wait_status(user, p["id"].as_str().unwrap(), "succeeded").await;
    }
    let numbers: BTreeSet<String> =
        invoices_of(&s, user).await.iter().map(|i| i["number"].as_str().unwrap().to_string()).collect();
    let expected: BTreeSet<String> = (1..=6).map(|n| format!("INV-2026-{n:06}")).collect();
    assert_eq!(numbers, expected);
    // The receipt and invoice counters are taken together, in one statement: both series stay
    // gap-free and distinct.
    let receipts: BTreeSet<String> =
        invoices_of(&s, user).await.iter().map(|i| i["receipt_number"].as_str().unwrap().to_string()).collect();
    let expected: BTreeSet<String> = (1..=6).map(|n| format!("RCPT-2026-{n:06}")).collect();
    assert_eq!(receipts, expected);

    // The next period is charged in the new year: the series starts again.
    clock.set(Utc.with_ymd_and_hms(2027, 1, 31, 23, 0, 0).unwrap());
    let next = paid_charge(&s, user, "9.99", json!([])).await;
    let invoices = invoices_of(&s, user).await;
    let newest = &invoices[0];
    assert_eq!(newest["payment_id"], next["id"]);
    assert_eq!(newest["number"], "INV-2027-000001");
    assert_eq!(newest["receipt_number"], "RCPT-2027-000001", "receipts keep their own series");
    // Pagination: the cursor walks all seven, newest first, none twice.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/payments/invoices?limit=3&cursor={c}"),
            None => "/api/payments/invoices?limit=3".to_string(),
        };
        let page: Value = s.get_as(user, &[Role::Learner], &path).await.json().await.unwrap();
        seen.extend(page["data"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);
    s.stop().await;
}

/// A success's receipt and invoice are numbered in SQL (`document_number`, inside the statement
/// that records the success), a credit note in Rust (`domain::invoice::document_number`): the two
/// write every number alike, padding included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_numbered_in_sql_and_in_rust_read_alike() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::Text)]
        number: String,
    }
    let s = Stack::start().await;
    let mut conn = s.svc.pool.get().await.unwrap();
    for (series, year, sequence) in
        [("RCPT", 2026, 1_i64), ("INV", 2026, 123), ("CN", 2027, 999_999), ("INV", 2031, 1_234_567)]
    {
        let sql: Number = diesel::sql_query("SELECT document_number($1, $2, $3) AS number")
            .bind::<diesel::sql_types::Text, _>(series)
            .bind::<diesel::sql_types::Int4, _>(year)
            .bind::<diesel::sql_types::Int8, _>(sequence)
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(sql.number, billing::domain::invoice::document_number(series, year, sequence));
    }
    drop(conn);
    s.stop().await;
}
