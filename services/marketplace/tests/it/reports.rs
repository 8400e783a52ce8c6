//! Issue 19: the marketplace reports reconciled with months of sales and refunds driven through
//! the real purchase flow (billing + stripe-fake) on a moved clock. Expected numbers are computed
//! here from the same facts by the split rule (70% half-even to the instructor), not read back.

use crate::support::{Market, Options};
use chrono::{DateTime, TimeZone, Utc};
use events::CloudEvent;
use platform::auth::Role;
use platform::reports::{Interval, Series};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use testkit::bus::Capture;
use uuid::Uuid;

const ADMIN: &[Role] = &[Role::Admin];
const INSTRUCTOR: &[Role] = &[Role::Instructor];

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 12, 0, 0).unwrap()
}

/// The instructor's share of `gross` (or of a refund of it): 70% rounded half-even to cents.
fn instructor_share(gross: Decimal) -> Decimal {
    (gross * d("0.70")).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// One fact as the test knows it: a sale (+) or a refund (-) of `amount` in `month`.
struct Fact {
    month: u32,
    course: String,
    instructor: Uuid,
    amount: Decimal,
    refund: bool,
}

/// The expected row of one month, from the facts.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    sales: i64,
    refunds: i64,
    gross_sales: Decimal,
    refunded: Decimal,
    instructor: Decimal,
    platform: Decimal,
}

fn expected_by_month(facts: &[Fact]) -> BTreeMap<u32, Expected> {
    let mut out: BTreeMap<u32, Expected> = (1..=4).map(|m| (m, Expected::default())).collect();
    for f in facts {
        let e = out.get_mut(&f.month).unwrap();
        let share = instructor_share(f.amount);
        if f.refund {
            e.refunds += 1;
            e.refunded += f.amount;
            e.instructor -= share;
            e.platform -= f.amount - share;
        } else {
            e.sales += 1;
            e.gross_sales += f.amount;
            e.instructor += share;
            e.platform += f.amount - share;
        }
    }
    out
}

/// A paid purchase of `course` by a new buyer, completed at the clock's time: (buyer, purchase, payment).
async fn sell(m: &Market, course: &str) -> (Uuid, String, String) {
    let buyer = Uuid::now_v7();
    let purchase: Value = m.buy(buyer, course, &Uuid::new_v4().to_string()).await.json().await.unwrap();
    m.confirm(&purchase, "pm_card_visa");
    m.wait_owned(buyer, course).await;
    (buyer, purchase["id"].as_str().unwrap().to_string(), purchase["payment_id"].as_str().unwrap().to_string())
}

/// Billing's refund of `amount` (cumulative `total`) of a `price` payment, as it publishes it.
fn refund_event(buyer: Uuid, purchase: &str, payment: &str, price: &str, amount: &str, total: &str) -> CloudEvent {
    let full = d(total) == d(price);
    CloudEvent {
        specversion: "1.0".into(),
        id: Uuid::now_v7(),
        source: "/services/billing".into(),
        event_type: "billing.payment.refunded.v1".into(),
        time: Utc::now(),
        subject: payment.to_string(),
        datacontenttype: "application/json".into(),
        dataschema: "events/billing/payment.refunded.v1.json".into(),
        traceparent: None,
        tracestate: None,
        data: json!({
            "payment_id": payment, "user_id": buyer, "purpose": "course_purchase", "reference_id": purchase,
            "amount": {"amount": price, "currency": "USD"},
            "refunded_amount": {"amount": amount, "currency": "USD"},
            "total_refunded": {"amount": total, "currency": "USD"},
            "fully_refunded": full, "ends_access": full,
            "reason": "requested_by_customer", "initiated_by": "admin", "refunded_at": Utc::now(),
        }),
    }
}

fn amount(row: &Value, field: &str) -> Decimal {
    d(row[field].as_str().unwrap_or_else(|| panic!("{field} in {row}")))
}

/// Parse the CSV body into header-keyed rows (no quoted fields in these reports' values).
fn csv_rows(body: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = body.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(str::to_string)).collect()).collect()
}

async fn get_csv(m: &Market, caller: (Uuid, &[Role]), path: &str) -> String {
    let res = m
        .http
        .get(m.url(path))
        .header("x-internal-token", Market::token(caller.0, caller.1))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET {path} as CSV");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_of_sales_and_refunds_reconcile_with_the_reports() {
    let m = Market::start_with(Options {
        billing: true,
        rewards: false,
        tweak: Box::new(|c| {
            c.min_payout = Decimal::ONE;
            c.refund_window_days = 30;
        }),
    })
    .await;
    let mut refunded = Capture::bind(&m.env, &["marketplace.purchase.refunded.v1"]).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let price = |p: &str| json!({"price": {"amount": p, "currency": "USD"}});
    let c1 = m.course(alice, price("20.00"), true).await["id"].as_str().unwrap().to_string();
    let c2 = m.course(alice, price("10.00"), true).await["id"].as_str().unwrap().to_string();
    let c3 = m.course(bob, price("15.00"), true).await["id"].as_str().unwrap().to_string();
    let mut facts = Vec::new();
    let mut fact = |month, course: &str, instructor, amount: &str, refund| {
        facts.push(Fact { month, course: course.to_string(), instructor, amount: d(amount), refund })
    };

    // January: two sales.
    m.clock.set(at(1, 15));
    let (b1, p1, pay1) = sell(&m, &c1).await;
    fact(1, &c1, alice, "20.00", false);
    sell(&m, &c3).await;
    fact(1, &c3, bob, "15.00", false);
    // February: a sale, and January's first sale refunded in full.
    m.clock.set(at(2, 10));
    sell(&m, &c2).await;
    fact(2, &c2, alice, "10.00", false);
    testkit::bus::publish_raw(&m.env, &refund_event(b1, &p1, &pay1, "20.00", "20.00", "20.00")).await;
    refunded.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    fact(2, &c1, alice, "20.00", true);
    // March: a sale refunded by half the same month. April: nothing.
    m.clock.set(at(3, 5));
    let (b4, p4, pay4) = sell(&m, &c1).await;
    fact(3, &c1, alice, "20.00", false);
    testkit::bus::publish_raw(&m.env, &refund_event(b4, &p4, &pay4, "20.00", "10.00", "10.00")).await;
    refunded.expect("marketplace.purchase.refunded.v1", Duration::from_secs(20)).await;
    fact(3, &c1, alice, "10.00", true);

    // The monthly report, row by row.
    let path = "/api/admin/reports/marketplace?from=2026-01-01&to=2026-05-01&interval=month";
    let report = m.get_json(Some((Uuid::now_v7(), ADMIN)), path).await;
    let rows = report["data"].as_array().unwrap();
    let expected = expected_by_month(&facts);
    assert_eq!(rows.len(), 4, "one USD row per month, April's empty: {report}");
    for (row, (month, e)) in rows.iter().zip(&expected) {
        assert_eq!(row["period_start"], json!(format!("2026-{month:02}-01T00:00:00Z")), "{row}");
        assert_eq!(row["currency"], "USD");
        let got = Expected {
            sales: row["sales"].as_i64().unwrap(),
            refunds: row["refunds"].as_i64().unwrap(),
            gross_sales: amount(row, "gross_sales"),
            refunded: amount(row, "refunded"),
            instructor: amount(row, "instructor_revenue"),
            platform: amount(row, "platform_revenue"),
        };
        assert_eq!(&got, e, "month {month}: {row}");
        // The invariants, on every row: GMV = gross - refunds = instructor + platform revenue.
        assert_eq!(amount(row, "gmv"), got.gross_sales - got.refunded, "{row}");
        assert_eq!(amount(row, "gmv"), got.instructor + got.platform, "{row}");
    }
    // That report was read on 5 March: 1 January to 4 March came from per-day summaries, the rest
    // live. Answered all live (no day closed yet) the same series gives the same rows, and the
    // summaries hold every ledger line of the days they cover.
    let series =
        Series::new(at(1, 1) - chrono::Duration::hours(12), at(5, 1) - chrono::Duration::hours(12), Interval::Month)
            .unwrap();
    let mut conn = m.svc.pool.get().await.unwrap();
    let summarised = marketplace::reports::sales(&mut conn, &series, at(3, 5)).await.unwrap();
    let live = marketplace::reports::sales(&mut conn, &series, series.from()).await.unwrap();
    assert_eq!(summarised, live);
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        days: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        summarised: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        lines: i64,
    }
    let counts: Counts = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT (SELECT count(*) FROM sales_days_done) AS days, \
                    (SELECT coalesce(sum(sales + refunds), 0)::bigint FROM sales_days) AS summarised, \
                    (SELECT count(*) FROM sales_ledger WHERE occurred_at < '2026-03-05T00:00:00Z') AS lines",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!((counts.days, counts.summarised, counts.lines), (31 + 28 + 4, 4, 4));
    drop(conn);

    // A past month reports the same after later refunds: February is unchanged by March's.
    assert_eq!(amount(&rows[1], "gross_sales"), d("10.00"));

    // The CSV holds the same rows.
    let csv = csv_rows(&get_csv(&m, (Uuid::now_v7(), ADMIN), path).await);
    assert_eq!(csv.len(), rows.len());
    for (line, row) in csv.iter().zip(rows) {
        for (field, value) in line {
            let json = match &row[field] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(value, &json, "CSV {field}");
        }
    }

    // Top courses over the range: by revenue c3 (15.00), then c1 and c2 tied at 10.00 (c1 sold
    // more); by sales c1 (2), then c3 and c2 (1 each; c3 earned more).
    let top = |by: &str| format!("/api/admin/reports/marketplace/top-courses?from=2026-01-01&to=2026-05-01&by={by}");
    let ids = |v: &Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|r| r["course_id"].as_str().unwrap().to_string()).collect()
    };
    let by_revenue = m.get_json(Some((Uuid::now_v7(), ADMIN)), &top("revenue")).await;
    assert_eq!(ids(&by_revenue), [c3.clone(), c1.clone(), c2.clone()], "{by_revenue}");
    let revenue_of = |course: &str| -> Decimal {
        facts.iter().filter(|f| f.course == course).map(|f| if f.refund { -f.amount } else { f.amount }).sum()
    };
    for r in by_revenue["data"].as_array().unwrap() {
        assert_eq!(amount(r, "revenue"), revenue_of(r["course_id"].as_str().unwrap()), "{r}");
    }
    assert_eq!(
        ids(&m.get_json(Some((Uuid::now_v7(), ADMIN)), &top("sales")).await),
        [c1.clone(), c3.clone(), c2.clone()]
    );
    // Exactly one closed month (January, read on 5 March) is ranked straight from the per-course
    // monthly summary: c1 (20.00), c3 (15.00); the two months before March the same as the sum of
    // January's and February's summaries (c3 15.00, c2 10.00, c1 0.00 after its refund).
    let jan = m
        .get_json(
            Some((Uuid::now_v7(), ADMIN)),
            "/api/admin/reports/marketplace/top-courses?from=2026-01-01&to=2026-02-01&by=revenue",
        )
        .await;
    assert_eq!(ids(&jan), [c1.clone(), c3.clone()], "{jan}");
    assert_eq!((amount(&jan["data"][0], "revenue"), jan["data"][0]["sales"].as_i64()), (d("20.00"), Some(1)));
    let two = m
        .get_json(
            Some((Uuid::now_v7(), ADMIN)),
            "/api/admin/reports/marketplace/top-courses?from=2026-01-01&to=2026-03-01&by=revenue",
        )
        .await;
    assert_eq!(ids(&two), [c3.clone(), c2.clone(), c1.clone()], "{two}");
    assert_eq!(amount(&two["data"][2], "revenue"), d("0.00"), "{two}");
    assert_eq!(two["data"][2]["refunds"], 1, "{two}");

    // Each instructor sees their own sales only; their earnings add up to the admin's split.
    let mine = "/api/instructors/me/reports/sales?from=2026-01-01&to=2026-05-01";
    let alice_rows = m.get_json(Some((alice, INSTRUCTOR)), mine).await;
    let bob_rows = m.get_json(Some((bob, INSTRUCTOR)), mine).await;
    let courses = |v: &Value| -> Vec<String> {
        let mut c: Vec<String> =
            v["data"].as_array().unwrap().iter().map(|r| r["course_id"].as_str().unwrap().to_string()).collect();
        c.dedup();
        c
    };
    assert!(!courses(&alice_rows).contains(&c3), "alice never sees bob's course: {alice_rows}");
    assert_eq!(courses(&bob_rows), std::slice::from_ref(&c3), "{bob_rows}");
    for (who, rows) in [(alice, &alice_rows), (bob, &bob_rows)] {
        let earned: Decimal = rows["data"].as_array().unwrap().iter().map(|r| amount(r, "earnings")).sum();
        let want: Decimal = facts
            .iter()
            .filter(|f| f.instructor == who)
            .map(|f| if f.refund { -instructor_share(f.amount) } else { instructor_share(f.amount) })
            .sum();
        assert_eq!(earned, want);
    }
    // Alice's January row for c1: one sale of 20.00, 14.00 to her.
    let jan = &alice_rows["data"][0];
    assert_eq!((jan["course_id"].as_str().unwrap(), jan["sales"].as_i64()), (c1.as_str(), Some(1)));
    assert_eq!(amount(jan, "earnings"), d("14.00"));
    let csv = get_csv(&m, (bob, INSTRUCTOR), mine).await;
    assert_eq!(csv_rows(&csv).len(), 1);
    assert!(!csv.contains(&c1), "bob's CSV holds only his course");

    // Payouts: bob's January sale matured (window passed), he is paid out; the states add up to
    // every instructor's net earnings, as each instructor's own earnings view shows them.
    m.clock.set(at(3, 20));
    testkit::eventually("bob's sale to mature", Duration::from_secs(20), || async {
        let e = m.earnings(bob).await;
        (e["totals"][0]["by_status"]["available"]["amount"] == "10.50").then_some(())
    })
    .await;
    let key = Uuid::new_v4().to_string();
    let res =
        m.send(reqwest::Method::POST, bob, INSTRUCTOR, "/api/instructors/me/payouts", json!({}), Some(&key)).await;
    assert_eq!(res.status(), 201);
    let payout: Value = res.json().await.unwrap();
    // The report and the instructors' own views read the same earnings: once every refund event
    // is applied (the outbox may publish a late one up to its poll interval after the commit),
    // they agree on every state.
    let (snapshot, by_status) =
        testkit::eventually("the report to agree with the views", Duration::from_secs(20), || async {
            let snapshot = m.get_json(Some((Uuid::now_v7(), ADMIN)), "/api/admin/reports/marketplace/payouts").await;
            let mut by_status: BTreeMap<String, Decimal> = BTreeMap::new();
            for who in [alice, bob] {
                for (status, money) in m.earnings(who).await["totals"][0]["by_status"].as_object().unwrap() {
                    *by_status.entry(status.clone()).or_default() += d(money["amount"].as_str().unwrap());
                }
            }
            let usd = &snapshot["data"][0];
            ["pending", "available", "in_payout", "paid"]
                .iter()
                .all(|s| amount(usd, s) == by_status[*s])
                .then_some((snapshot.clone(), by_status))
        })
        .await;
    let usd = &snapshot["data"][0];
    assert_eq!(usd["currency"], "USD");
    assert_eq!(amount(usd, "in_payout"), d("10.50"), "{snapshot}");
    for status in ["pending", "available", "in_payout", "paid"] {
        assert_eq!(amount(usd, status), by_status[status], "{status}: {snapshot}");
    }
    let mark = format!("/api/marketplace/payouts/{}/mark-paid", payout["id"].as_str().unwrap());
    assert_eq!(m.post(Uuid::now_v7(), ADMIN, &mark, json!({})).await.status(), 200);
    let snapshot = m.get_json(Some((Uuid::now_v7(), ADMIN)), "/api/admin/reports/marketplace/payouts").await;
    let usd = &snapshot["data"][0];
    assert_eq!((amount(usd, "in_payout"), amount(usd, "paid")), (d("0.00"), d("10.50")));
    // The dashboards' gauge shows the same amounts owed as the report.
    // The gauge is recomputed on the metrics refresh, not on every write: wait for it, bounded.
    // The report is read again each time: the maturity job may still be moving an earning that
    // became due at the clock's jump (alice's February sale) from pending to available.
    for state in ["pending", "available"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let report = m.get_json(Some((Uuid::now_v7(), ADMIN)), "/api/admin/reports/marketplace/payouts").await;
            let want: f64 = amount(&report["data"][0], state).to_string().parse().unwrap();
            let metrics = m.http.get(m.svc.metrics_url().unwrap()).send().await.unwrap().text().await.unwrap();
            let gauge = platform::metrics::sample(
                &metrics,
                "monetization_marketplace_payouts_owed",
                &[("state", state), ("currency", "USD")],
            )
            .unwrap_or(0.0);
            if gauge == want || std::time::Instant::now() > deadline {
                assert_eq!(gauge, want, "{state} gauge");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // Everything booked to instructors is in exactly one state.
    let all_time: Decimal = rows.iter().map(|r| amount(r, "instructor_revenue")).sum();
    let states: Decimal = ["pending", "available", "in_payout", "paid"].iter().map(|s| amount(usd, s)).sum();
    assert_eq!(states, all_time);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_for_admins_and_an_instructor_sees_only_their_own_sales() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let q = "?from=2026-01-01&to=2026-02-01";
    for path in [
        format!("/api/admin/reports/marketplace{q}"),
        "/api/admin/reports/marketplace/payouts".to_string(),
        format!("/api/admin/reports/marketplace/top-courses{q}"),
    ] {
        assert_eq!(m.get(Some((instructor, INSTRUCTOR)), &path).await.status(), 403, "{path}");
        assert_eq!(m.get(None, &path).await.status(), 401, "{path}");
    }
    let mine = format!("/api/instructors/me/reports/sales{q}");
    assert_eq!(m.get(Some((Uuid::now_v7(), &[Role::Learner])), &mine).await.status(), 403);
    // No query parameter can widen it to another instructor.
    let other = format!("{mine}&instructor_id={}", Uuid::now_v7());
    assert_eq!(m.get(Some((instructor, INSTRUCTOR)), &other).await.status(), 422);
    // Bad ranges are named.
    let bad =
        m.get(Some((Uuid::now_v7(), ADMIN)), "/api/admin/reports/marketplace?from=2026-02-01&to=2026-01-01").await;
    assert_eq!(bad.status(), 422);
    let bad =
        m.get(Some((Uuid::now_v7(), ADMIN)), &format!("/api/admin/reports/marketplace/top-courses{q}&limit=0")).await;
    assert_eq!(bad.status(), 422);
    // Nothing sold: an empty report, not an error.
    let empty = m.get_json(Some((Uuid::now_v7(), ADMIN)), &format!("/api/admin/reports/marketplace{q}")).await;
    assert_eq!(empty["data"], json!([]));
    m.stop().await;
}
