//! The subscriptions report, reconciled: three months of subscribing, upgrading, downgrading,
//! cancelling, failing and recovering a renewal and coming back, driven with the service's clock;
//! the expected numbers are computed here from the facts driven, by the definitions in docs/api.md.

use crate::support::Stack;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, month, day, hour, 0, 0).single().unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn price(tier: &str) -> Decimal {
    match tier {
        "pro" => d("9.99"),
        "enterprise" => d("99"),
        _ => Decimal::ZERO,
    }
}

/// The test's own account of MRR: each customer's MRR, whether they paid before, and every
/// movement as (month, kind, amount).
#[derive(Default)]
struct Facts {
    mrr: HashMap<Uuid, Decimal>,
    paid_before: HashSet<Uuid>,
    moves: Vec<(u32, &'static str, Decimal)>,
}

impl Facts {
    /// `user` pays `now` per month from `month` on (0: stopped paying).
    fn pays(&mut self, month: u32, user: Uuid, now: Decimal) {
        let was = self.mrr.insert(user, now).unwrap_or_default();
        let kind = match () {
            _ if was.is_zero() && self.paid_before.contains(&user) => "reactivation",
            _ if was.is_zero() => "new",
            _ if now.is_zero() => "churn",
            _ if now > was => "expansion",
            _ => "contraction",
        };
        if !now.is_zero() {
            self.paid_before.insert(user);
        }
        self.moves.push((month, kind, (now - was).abs()));
    }

    fn moved(&self, month: u32, kind: &str) -> Decimal {
        self.moves.iter().filter(|(m, k, _)| *m == month && *k == kind).map(|(_, _, a)| *a).sum()
    }

    fn count(&self, month: u32, kind: &str) -> i64 {
        self.moves.iter().filter(|(m, k, _)| *m == month && *k == kind).count() as i64
    }

    fn mrr_after(&self, month: u32) -> Decimal {
        self.moves
            .iter()
            .filter(|(m, _, _)| *m <= month)
            .map(|(_, k, a)| if matches!(*k, "churn" | "contraction") { -*a } else { *a })
            .sum()
    }

    fn paying_after(&self, month: u32) -> i64 {
        (1..=month).map(|m| self.count(m, "new") + self.count(m, "reactivation") - self.count(m, "churn")).sum()
    }
}

fn money(row: &Value, field: &str) -> Decimal {
    d(row[field].as_str().unwrap_or_else(|| panic!("{field} in {row}")))
}

/// Check one month's row against the facts, and the MRR identity on the row itself.
fn check_month(row: &Value, facts: &Facts, month: u32) {
    let label = format!("month {month}: {row}");
    assert_eq!(money(row, "mrr_start"), facts.mrr_after(month - 1), "{label}");
    assert_eq!(money(row, "mrr"), facts.mrr_after(month), "{label}");
    assert_eq!(money(row, "arr"), facts.mrr_after(month) * Decimal::from(12), "{label}");
    for (field, kind) in [
        ("new_mrr", "new"),
        ("expansion_mrr", "expansion"),
        ("reactivation_mrr", "reactivation"),
        ("contraction_mrr", "contraction"),
        ("churned_mrr", "churn"),
    ] {
        assert_eq!(money(row, field), facts.moved(month, kind), "{field}, {label}");
    }
    assert_eq!(
        money(row, "mrr"),
        money(row, "mrr_start") + money(row, "new_mrr") + money(row, "expansion_mrr") + money(row, "reactivation_mrr")
            - money(row, "contraction_mrr")
            - money(row, "churned_mrr"),
        "MRR identity, {label}"
    );
    assert_eq!(row["new_subscribers"], facts.count(month, "new"), "{label}");
    assert_eq!(row["reactivated_subscribers"], facts.count(month, "reactivation"), "{label}");
    assert_eq!(row["churned_subscribers"], facts.count(month, "churn"), "{label}");
    let (start, end) = (facts.paying_after(month - 1), facts.paying_after(month));
    assert_eq!(
        (row["paying_subscribers_start"].as_i64(), row["paying_subscribers"].as_i64()),
        (Some(start), Some(end))
    );
    let logo = (start > 0).then(|| {
        (Decimal::from(facts.count(month, "churn")) / Decimal::from(start))
            .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointNearestEven)
    });
    assert_eq!(row["logo_churn_rate"].as_str().map(d), logo, "{label}");
    let arpu = (end > 0).then(|| (facts.mrr_after(month) / Decimal::from(end)).round_dp(2));
    assert_eq!(row["arpu"].as_str().map(d), arpu, "{label}");
}

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

/// The customer "updates their card": billing's saved card for renewals becomes one that pays.
async fn save_good_card(s: &Stack, user: Uuid) {
    use diesel::sql_types::Uuid as SqlUuid;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.unwrap();
    let sql = format!(
        "UPDATE {}.customers SET default_payment_method = 'pm_card_visa' WHERE user_id = $1",
        s.env.schema("billing")
    );
    let n = diesel::sql_query(sql).bind::<SqlUuid, _>(user).execute(&mut conn).await.unwrap();
    assert_eq!(n, 1);
}

async fn report(s: &Stack, query: &str) -> Value {
    let res = s.report(query, None).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

const Q1: &str = "from=2030-01-01&to=2030-04-01&interval=month";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_months_of_activity_reconcile_with_the_report() {
    let s = Stack::start().await;
    let mut facts = Facts::default();
    let [a, b, c, dee, e, f] = [(); 6].map(|_| Uuid::now_v7());

    // January. A (Pro), B (Enterprise) and C (Pro, a card that fails off-session) subscribe.
    s.clock.set(at(1, 5, 12));
    s.subscribe_and_pay(a, "pro", "pm_card_visa").await;
    facts.pays(1, a, price("pro"));
    s.subscribe_and_pay(b, "enterprise", "pm_card_visa").await;
    facts.pays(1, b, price("enterprise"));
    let me_c = s.subscribe_and_pay(c, "pro", "pm_card_authenticationRequired").await;
    facts.pays(1, c, price("pro"));
    let renewal = period_end(&me_c);
    // E never pays: no MRR, and not a subscriber once expired.
    s.clock.set(at(1, 7, 12));
    s.subscribe_unpaid(e, "pro").await;
    s.clock.set(at(1, 8, 13));
    s.wait_status(e, "incomplete_expired").await;
    s.clock.set(at(1, 10, 9));
    let me_d = s.subscribe_and_pay(dee, "pro", "pm_card_visa").await;
    facts.pays(1, dee, price("pro"));
    // A upgrades: expansion by the list prices' difference (the prorated charge is not MRR).
    s.clock.set(at(1, 15, 12));
    let res = s.post(a, "/api/subscriptions/me/change", json!({"tier": "enterprise"}), Some("a-up")).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    facts.pays(1, a, price("enterprise"));
    // B downgrades at the period end and D cancels at the period end: nothing moves in January.
    s.clock.set(at(1, 20, 12));
    let res = s.post(b, "/api/subscriptions/me/change", json!({"tier": "pro"}), Some("b-down")).await;
    assert_eq!(res.status(), 200);
    s.clock.set(at(1, 25, 12));
    let res = s.post(dee, "/api/subscriptions/me/cancel", json!({"at_period_end": true}), None).await;
    assert_eq!(res.status(), 200);

    // February. Renewals: B's downgrade takes effect (contraction), C's renewal fails (past_due,
    // still MRR) and recovers the next day on a new card (no movement).
    s.clock.set(renewal + Duration::seconds(1));
    s.wait_status(c, "past_due").await;
    testkit::eventually("B renewed on Pro", StdDuration::from_secs(30), || async {
        (s.me(b).await["subscription"]["tier"] == "pro").then_some(())
    })
    .await;
    facts.pays(2, b, price("pro"));
    save_good_card(&s, c).await;
    s.clock.set(renewal + Duration::days(1) + Duration::seconds(2));
    s.wait_status(c, "active").await;
    // D's cancellation at the period end: churn.
    s.clock.set(period_end(&me_d) + Duration::seconds(1));
    s.wait_status(dee, "canceled").await;
    facts.pays(2, dee, Decimal::ZERO);
    let before_march = report(&s, Q1).await;

    // March. D comes back (reactivation), B cancels now (churn), F subscribes and has not paid.
    s.clock.set(at(3, 2, 12));
    s.subscribe_and_pay(dee, "pro", "pm_card_visa").await;
    facts.pays(3, dee, price("pro"));
    s.clock.set(at(3, 3, 12));
    let res = s.post(b, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 200);
    facts.pays(3, b, Decimal::ZERO);
    s.subscribe_unpaid(f, "pro").await;

    let q1 = report(&s, Q1).await;
    let rows = q1["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "one row per month, one currency: {q1}");
    assert!(rows.iter().all(|r| r["currency"] == "USD"));
    for (i, row) in rows.iter().enumerate() {
        check_month(row, &facts, i as u32 + 1);
    }
    assert_eq!(rows[1]["logo_churn_rate"], "0.25", "D of four paying at February's start");
    // Subscribers at the end of March: A on Enterprise, C and D on Pro, F not paid yet.
    let expected: BTreeMap<String, BTreeMap<String, i64>> = serde_json::from_value(json!({
        "enterprise": {"active": 1}, "pro": {"active": 2, "incomplete": 1}
    }))
    .unwrap();
    assert_eq!(
        serde_json::from_value::<BTreeMap<String, BTreeMap<String, i64>>>(rows[2]["subscribers"].clone()).unwrap(),
        expected
    );
    // At the end of January: A and B on Enterprise, C and D on Pro (E expired, not counted).
    assert_eq!(rows[0]["subscribers"], json!({"enterprise": {"active": 2}, "pro": {"active": 2}}));
    // February at its end, as it was reported before March happened: the past does not move.
    assert_eq!(rows[0], before_march["data"][0]);
    assert_eq!(rows[1], before_march["data"][1]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_answers_csv_and_refuses_non_admins_and_bad_ranges() {
    let s = Stack::start().await;
    s.clock.set(at(1, 5, 12));
    let user = Uuid::now_v7();
    s.subscribe_and_pay(user, "pro", "pm_card_visa").await;

    let res = s.report("from=2030-01-01&to=2030-01-15&interval=week", Some("text/csv")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    // 2030-01-01 is a Tuesday: Jan 1-7, 7-14, 14-15.
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("period_start,period_end,currency,mrr_start,mrr,arr,new_mrr,"), "{}", lines[0]);
    assert!(lines[0].ends_with(",subscribers.pro.active"), "{}", lines[0]);
    let cols: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&cols[..7], ["2030-01-01T00:00:00Z", "2030-01-07T00:00:00Z", "USD", "0.00", "9.99", "119.88", "9.99"]);
    assert_eq!(lines[2].split(',').nth(3), Some("9.99"), "the next week starts where the last ended");

    let learner = testkit::internal_token("subscriptions", &user.to_string(), &[platform::auth::Role::Learner]);
    let res = s
        .http
        .get(format!("{}/api/admin/reports/subscriptions?from=2030-01-01&to=2030-02-01", s.svc.url()))
        .header("x-internal-token", learner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    for (query, field) in [
        ("from=2030-02-01&to=2030-01-01", "to"),
        ("from=2020-01-01&to=2030-01-01&interval=day", "interval"),
        ("from=2030-01-01&to=2030-02-01&interval=year", "query.interval"),
        ("from=soon&to=2030-02-01", "query.from"),
    ] {
        let res = s.report(query, None).await;
        assert_eq!(res.status(), 422, "{query}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    s.stop().await;
}
