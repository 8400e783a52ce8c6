//! The payments report, reconciled: two months of payments of each purpose, declines, a retry
//! that succeeds and refunds, driven with billing's clock; the expected numbers are computed here
//! from the facts driven, by the definitions in docs/api.md ("Payments report").

use crate::support::Stack;
use chrono::{DateTime, TimeZone, Utc};
use events::catalog::billing::PaymentPurpose;
use platform::auth::Role;
use platform::clock::ManualClock;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, month, day, 12, 0, 0).single().unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// One outcome as the test drove it.
struct Fact {
    month: u32,
    payment: String,
    kind: &'static str,
    purpose: &'static str,
    amount: Decimal,
    code: Option<&'static str>,
}

#[derive(Default)]
struct Facts(Vec<Fact>);

impl Facts {
    fn of<'a>(&'a self, month: u32, kind: &'a str) -> impl Iterator<Item = &'a Fact> {
        self.0.iter().filter(move |f| f.month == month && f.kind == kind)
    }

    fn sum(&self, month: u32, kind: &str, purpose: Option<&str>) -> Decimal {
        self.of(month, kind).filter(|f| purpose.is_none_or(|p| f.purpose == p)).map(|f| f.amount).sum()
    }

    /// Payments whose first attempt was in `month`: (how many, first attempt succeeded, ever succeeded).
    fn cohort(&self, month: u32) -> (i64, i64, i64) {
        let mut seen = BTreeSet::new();
        let (mut n, mut first, mut ever) = (0, 0, 0);
        for f in self.0.iter().filter(|f| f.kind == "succeeded" || f.kind == "failed") {
            if !seen.insert(f.payment.clone()) || f.month != month {
                continue;
            }
            n += 1;
            first += i64::from(f.kind == "succeeded");
            ever += i64::from(self.0.iter().any(|g| g.payment == f.payment && g.kind == "succeeded"));
        }
        (n, first, ever)
    }
}

fn rate(part: i64, whole: i64) -> Option<Decimal> {
    (whole != 0).then(|| {
        (Decimal::from(part) / Decimal::from(whole))
            .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointNearestEven)
    })
}

fn rate_in(row: &Value, field: &str) -> Option<Decimal> {
    row[field].as_str().map(d)
}

fn money(v: &Value) -> Decimal {
    d(v.as_str().unwrap_or_else(|| panic!("an amount: {v}")))
}

fn check_month(row: &Value, facts: &Facts, month: u32) {
    let label = format!("month {month}: {row}");
    let succeeded = facts.of(month, "succeeded").count() as i64;
    let failed = facts.of(month, "failed").count() as i64;
    assert_eq!((row["succeeded"].as_i64(), row["failed"].as_i64()), (Some(succeeded), Some(failed)), "{label}");
    assert_eq!(row["attempts"].as_i64(), Some(succeeded + failed), "{label}");
    let mut codes: BTreeMap<String, i64> = BTreeMap::new();
    for f in facts.of(month, "failed") {
        *codes.entry(f.code.unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(row["failed_by_decline_code"], json!(codes), "{label}");
    let (n, first, ever) = facts.cohort(month);
    assert_eq!(row["payments_first_attempted"].as_i64(), Some(n), "{label}");
    assert_eq!(rate_in(row, "first_attempt_success_rate"), rate(first, n), "{label}");
    assert_eq!(rate_in(row, "eventual_success_rate"), rate(ever, n), "{label}");
    let refunds = facts.of(month, "refunded").count() as i64;
    assert_eq!(row["refunds"].as_i64(), Some(refunds), "{label}");
    assert_eq!(money(&row["refunded_amount"]), facts.sum(month, "refunded", None), "{label}");
    assert_eq!(rate_in(row, "refund_rate"), rate(refunds, succeeded), "{label}");
    let gross = facts.sum(month, "succeeded", None);
    assert_eq!(money(&row["gross_revenue"]), gross, "{label}");
    assert_eq!(money(&row["net_revenue"]), gross - facts.sum(month, "refunded", None), "{label}");
    for purpose in ["subscription", "course_purchase", "license"] {
        let by = &row["revenue_by_purpose"][purpose];
        let gross = facts.sum(month, "succeeded", Some(purpose));
        assert_eq!(money(&by["gross"]), gross, "{purpose}, {label}");
        assert_eq!(money(&by["net"]), gross - facts.sum(month, "refunded", Some(purpose)), "{purpose}, {label}");
    }
}

struct Driver<'a> {
    s: &'a Stack,
    facts: Facts,
    month: u32,
}

impl Driver<'_> {
    async fn pay(&mut self, purpose: PaymentPurpose, amount: &str, cards: &[&'static str]) -> (Uuid, String) {
        let user = Uuid::now_v7();
        let res = self.s.create_payment_for(user, amount, &Uuid::new_v4().to_string(), purpose, false).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let payment: Value = res.json().await.unwrap();
        let id = payment["id"].as_str().unwrap().to_string();
        let purpose = purpose.as_str();
        for (i, card) in cards.iter().enumerate() {
            self.s.confirm(&payment, card);
            let declined = match *card {
                "pm_card_chargeDeclined" => Some("generic_decline"),
                "pm_card_visa_chargeDeclinedInsufficientFunds" => Some("insufficient_funds"),
                _ => None,
            };
            // Each outcome is applied before the next attempt, as a customer retrying would.
            testkit::eventually(&format!("attempt {i} of {id} applied"), Duration::from_secs(15), || async {
                let p = self.s.payment(user, &id).await;
                let applied = match declined {
                    Some(code) => p["failure_code"] == code && p["status"] != "succeeded",
                    None => p["status"] == "succeeded",
                };
                applied.then_some(())
            })
            .await;
            let kind = if declined.is_some() { "failed" } else { "succeeded" };
            self.facts.0.push(Fact {
                month: self.month,
                payment: id.clone(),
                kind,
                purpose,
                amount: d(amount),
                code: declined,
            });
        }
        (user, id)
    }

    async fn refund(&mut self, id: &str, purpose: PaymentPurpose, amount: &str) {
        let admin = Uuid::now_v7();
        let body = json!({"amount": amount, "reason": "requested_by_customer"});
        let res = self.s.refund(admin, &[Role::Admin], id, body, &Uuid::new_v4().to_string()).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        testkit::eventually(&format!("refund of {id} confirmed"), Duration::from_secs(15), || async {
            let p = self
                .s
                .get_as(admin, &[Role::Admin], &format!("/api/payments/{id}"))
                .await
                .json::<Value>()
                .await
                .unwrap();
            (money(&p["amount_refunded"]["amount"]) > Decimal::ZERO).then_some(())
        })
        .await;
        self.facts.0.push(Fact {
            month: self.month,
            payment: id.to_string(),
            kind: "refunded",
            purpose: purpose.as_str(),
            amount: d(amount),
            code: None,
        });
    }
}

async fn report(s: &Stack, query: &str, accept: Option<&str>) -> reqwest::Response {
    let admin = testkit::internal_token("billing", &Uuid::now_v7().to_string(), &[Role::Admin]);
    let mut req = s.http.get(s.url(&format!("/api/admin/reports/payments?{query}"))).header("x-internal-token", admin);
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_months_of_payments_reconcile_with_the_report() {
    let clock = ManualClock::new(at(1, 5));
    let s = Stack::start_at(&clock).await;
    let mut drive = Driver { s: &s, facts: Facts::default(), month: 1 };

    // January: a course paid at once, a subscription paid at the second attempt, a license that
    // never gets paid, and part of the course refunded.
    let (_, course) = drive.pay(PaymentPurpose::CoursePurchase, "50.00", &["pm_card_visa"]).await;
    clock.set(at(1, 10));
    let (_, sub) = drive.pay(PaymentPurpose::Subscription, "9.99", &["pm_card_chargeDeclined", "pm_card_visa"]).await;
    drive.pay(PaymentPurpose::License, "99.00", &["pm_card_visa_chargeDeclinedInsufficientFunds"]).await;
    clock.set(at(1, 20));
    drive.refund(&course, PaymentPurpose::CoursePurchase, "20.00").await;

    // February: another course, and January's subscription refunded in full.
    clock.set(at(2, 3));
    drive.month = 2;
    drive.pay(PaymentPurpose::CoursePurchase, "30.00", &["pm_card_visa"]).await;
    drive.refund(&sub, PaymentPurpose::Subscription, "9.99").await;

    let res = report(&s, "from=2030-01-01&to=2030-03-01", None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{body}");
    check_month(&rows[0], &drive.facts, 1);
    check_month(&rows[1], &drive.facts, 2);
    assert_eq!(rows[0]["first_attempt_success_rate"], "0.3333", "1 of 3 paid at once");
    assert_eq!(rows[0]["eventual_success_rate"], "0.6667", "2 of 3 paid in the end");
    assert_eq!(rows[1]["revenue_by_purpose"]["subscription"]["net"], "-9.99", "refunded a month after it was paid");

    // CSV: the same rows.
    let res = report(&s, "from=2030-01-01&to=2030-03-01", Some("text/csv")).await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].ends_with(",failed.generic_decline,failed.insufficient_funds"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("2030-01-01T00:00:00Z,2030-02-01T00:00:00Z,USD,4,2,2,3,0.3333,0.6667,1,20.00,0.5,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",1,1"), "{}", lines[1]);

    // Only admins.
    let res =
        s.get_as(Uuid::now_v7(), &[Role::Learner], "/api/admin/reports/payments?from=2030-01-01&to=2030-03-01").await;
    assert_eq!(res.status(), 403);
    s.stop().await;
}
