//! Issue 19: the rewards reports reconciled with months of activity on a moved clock (earn by
//! purchases, admin awards, redemptions, clawbacks after refunds, vouchers issued, used and
//! expired). Expected numbers come from the rules applied here, not from the service.

use crate::support::Rewards;
use chrono::{DateTime, Utc};
use diesel_async::RunQueryDsl;
use events::catalog::marketplace::{CoursePurchased, PurchaseRefunded};
use platform::auth::Role;
use platform::money::{Currency, Money};
use platform::reports::{Interval, Series};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use uuid::Uuid;

const ADMIN: &[Role] = &[Role::Admin];

fn usd(a: &str) -> Money {
    Money::new(a.parse().unwrap(), Currency::USD).unwrap()
}

fn purchase(buyer: Uuid, id: Uuid, gross: &str, at: &str) -> CoursePurchased {
    CoursePurchased {
        purchase_id: id,
        course_id: Uuid::now_v7(),
        buyer_id: buyer,
        instructor_id: Uuid::now_v7(),
        gross: usd(gross),
        instructor_share: usd("0.00"),
        platform_share: usd(gross),
        payment_id: Some(Uuid::now_v7()),
        purchased_at: at.parse::<DateTime<Utc>>().unwrap(),
        tax: None,
    }
}

/// The course_purchased rule: 10 tokens plus 1 per whole USD.
fn earned_for(gross: &str) -> i64 {
    10 + Decimal::from_str(gross).unwrap().floor().to_string().parse::<i64>().unwrap()
}

async fn voucher(s: &Rewards, user: Uuid) -> String {
    let res = s.redeem(user, "course_voucher", &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["voucher"]["code"].as_str().unwrap().to_string()
}

async fn admin_json(s: &Rewards, path: &str) -> Value {
    let res = s.get_as(Uuid::now_v7(), ADMIN, path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

/// Per month (1-based), per ledger kind, the tokens the test moved.
#[derive(Default)]
struct Books(BTreeMap<u32, BTreeMap<&'static str, i64>>);

impl Books {
    fn add(&mut self, month: u32, kind: &'static str, tokens: i64) {
        *self.0.entry(month).or_default().entry(kind).or_default() += tokens;
    }
    fn get(&self, month: u32, kind: &str) -> i64 {
        self.0.get(&month).and_then(|k| k.get(kind)).copied().unwrap_or(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_of_token_activity_reconcile_with_the_reports() {
    let s = Rewards::start_at("2026-01-10T12:00:00Z").await;
    s.wait_consumer().await;
    let (ann, ben, cat) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut books = Books::default();

    // January: admin awards, and a purchase earns tokens.
    s.award(ann, 2000).await;
    s.award(ben, 700).await;
    books.add(1, "award", 2700);
    let bought = purchase(cat, Uuid::now_v7(), "20.00", "2026-01-10T12:00:00Z");
    s.publish(&bought).await;
    s.wait_balance(cat, earned_for("20.00")).await;
    books.add(1, "earn", earned_for("20.00"));

    // February: ann redeems a voucher and a month of Pro; cat's purchase is refunded in full.
    s.set_time("2026-02-03T09:00:00Z");
    let ann_voucher = voucher(&s, ann).await;
    let res = s.redeem(ann, "pro_month", &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status(), 201);
    books.add(2, "redeem", 300 + 1000);
    s.publish(&PurchaseRefunded {
        purchase_id: bought.purchase_id,
        course_id: bought.course_id,
        buyer_id: cat,
        instructor_id: bought.instructor_id,
        refunded_amount: usd("20.00"),
        instructor_reversal: usd("0.00"),
        platform_reversal: usd("20.00"),
        fully_refunded: true,
        access_ended: true,
        refunded_at: Utc::now(),
    })
    .await;
    s.wait_balance(cat, 0).await;
    books.add(2, "clawback", earned_for("20.00"));

    // March: ben redeems a voucher he will never use; ann's voucher pays for a course (reserved,
    // then consumed by the completed purchase, which also earns her tokens).
    s.set_time("2026-03-04T10:00:00Z");
    voucher(&s, ben).await;
    books.add(3, "redeem", 300);
    let with_voucher = Uuid::now_v7();
    let token = testkit::internal_token("rewards", "service:marketplace", &[Role::Service]);
    let res = s
        .http
        .post(s.url("/internal/vouchers/reserve"))
        .header("x-internal-token", token)
        .json(&json!({"code": ann_voucher, "user_id": ann, "purchase_id": with_voucher, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    s.publish(&purchase(ann, with_voucher, "9.99", "2026-03-04T10:00:00Z")).await;
    s.wait_balance(ann, 2000 - 1300 + earned_for("9.99")).await;
    books.add(3, "earn", earned_for("9.99"));

    // Ben's voucher (issued 2026-03-04, valid 90 days) expires on 2026-06-02; the report is read
    // in July.
    s.set_time("2026-07-01T00:00:00Z");
    s.wait_drained().await;

    // Tokens per month, kind by kind, and the net.
    let report = admin_json(&s, "/api/admin/reports/rewards?from=2026-01-01&to=2026-07-01&interval=month").await;
    let rows = report["data"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{report}");
    for (i, row) in rows.iter().enumerate() {
        let month = i as u32 + 1;
        for (field, kind) in [
            ("earned", "earn"),
            ("awarded", "award"),
            ("redeemed", "redeem"),
            ("clawed_back", "clawback"),
            ("expired", "expire"),
        ] {
            assert_eq!(row[field].as_i64(), Some(books.get(month, kind)), "month {month} {field}: {row}");
        }
        let net = books.get(month, "earn") + books.get(month, "award")
            - books.get(month, "redeem")
            - books.get(month, "clawback");
        assert_eq!(row["net"].as_i64(), Some(net), "month {month}: {row}");
    }

    // That report came from per-day summaries: on 1 July every day from 1 January to 29 June is
    // closed (30 June settles an hour after midnight). Answered live (no day closed yet) the same
    // series gives the same rows, and the summaries hold every ledger line of those days.
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    let series = Series::new(at("2026-01-01T00:00:00Z"), at("2026-07-01T00:00:00Z"), Interval::Month).unwrap();
    let summarised =
        rewards::reports::token_flows(&mut *s.conn().await, &series, at("2026-07-01T00:00:00Z")).await.unwrap();
    let live = rewards::reports::token_flows(&mut *s.conn().await, &series, at("2026-01-01T00:00:00Z")).await.unwrap();
    assert_eq!(summarised, live);
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        days: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        summarised: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        lines: i64,
    }
    let counts: Counts = diesel::sql_query(
        "SELECT (SELECT count(*) FROM token_flow_days_done) AS days, \
                (SELECT coalesce(sum(entries), 0)::bigint FROM token_flow_days) AS summarised, \
                (SELECT count(*) FROM token_transactions WHERE created_at < '2026-06-30T00:00:00Z') AS lines",
    )
    .get_result(&mut *s.conn().await)
    .await
    .unwrap();
    assert_eq!((counts.days, counts.summarised), (180, counts.lines));
    assert!(counts.lines > 0);

    // Tokens outstanding = the ledger's sum = the report's nets added up = the users' balances.
    let liability = admin_json(&s, "/api/admin/reports/rewards/liability").await;
    let outstanding = liability["outstanding_tokens"].as_i64().unwrap();
    #[derive(diesel::QueryableByName)]
    struct Sum {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let ledger: Sum = diesel::sql_query("SELECT coalesce(sum(amount), 0)::bigint AS n FROM token_transactions")
        .get_result(&mut *s.conn().await)
        .await
        .unwrap();
    let nets: i64 = rows.iter().map(|r| r["net"].as_i64().unwrap()).sum();
    let balances = s.balance_of(ann).await + s.balance_of(ben).await + s.balance_of(cat).await;
    assert_eq!(liability["debt_tokens"], 0);
    assert_eq!((outstanding, ledger.n, nets), (balances, balances, balances), "{liability}");
    assert_eq!(outstanding, 2000 - 1300 + earned_for("9.99") + 700 - 300);
    s.assert_books_balance().await;

    // The liability at catalogue value: the voucher (5.00 for 300) is the richest item per token.
    let usd_row = &liability["data"][0];
    assert_eq!((usd_row["currency"].as_str(), usd_row["valued_by"].as_str()), (Some("USD"), Some("course_voucher")));
    let value = (Decimal::from(outstanding) * Decimal::from(5) / Decimal::from(300))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    assert_eq!(Decimal::from_str(usd_row["token_liability"].as_str().unwrap()).unwrap(), value, "{liability}");
    // No voucher is still open: ann's was used, ben's expired.
    assert_eq!(usd_row["open_vouchers"], 0);

    // Vouchers: two issued (Feb, Mar), ann's used in March, ben's expired in June.
    let path = "/api/admin/reports/rewards/vouchers?from=2026-01-01&to=2026-07-01";
    let vouchers = admin_json(&s, path).await;
    let v = vouchers["data"].as_array().unwrap();
    assert_eq!(v.len(), 6, "{vouchers}");
    let counts: Vec<(i64, i64, i64)> = v
        .iter()
        .map(|r| (r["issued"].as_i64().unwrap(), r["used"].as_i64().unwrap(), r["expired"].as_i64().unwrap()))
        .collect();
    assert_eq!(counts, [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 0, 0), (0, 0, 0), (0, 0, 1)], "{vouchers}");
    assert_eq!(v[5]["expired_value"], "5.00");

    // The CSV form of the token report holds the same numbers.
    let res = s
        .http
        .get(s.url("/api/admin/reports/rewards?from=2026-01-01&to=2026-07-01"))
        .header("x-internal-token", testkit::internal_token("rewards", &Uuid::now_v7().to_string(), ADMIN))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "period_start,period_end,earned,awarded,redeemed,clawed_back,expired,net");
    assert_eq!(lines.len(), 7);
    let feb = format!(
        "2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,0,0,1300,{},0,{}",
        earned_for("20.00"),
        -1300 - earned_for("20.00")
    );
    assert_eq!(lines[2], feb);

    // Admins only.
    assert_eq!(s.get(ann, "/api/admin/reports/rewards/liability").await.status(), 403);
    assert_eq!(s.get(ann, "/api/admin/reports/rewards?from=2026-01-01&to=2026-02-01").await.status(), 403);
    s.stop().await;
}
