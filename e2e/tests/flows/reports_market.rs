//! Issue 19 through the gateway: the marketplace reports (GMV and its split, payouts owed, top
//! courses, an instructor's own sales) and the rewards reports (token flows, outstanding tokens
//! and their liability, vouchers) after real flows: courses bought (one with a reward voucher) and
//! refunded (in full, and partly as goodwill), tokens earned, awarded, redeemed and clawed back,
//! a payout requested and paid, over two days a month apart on the services' clocks. Every
//! expected number is computed here from the facts the test created, by the documented rules
//! (70 % to the instructor, half-even to the cent; 10 tokens + 1 per whole USD paid), never read
//! back from another report.

use crate::reports::{
    assert_bad_range, assert_bad_ranges, assert_csv_matches, assert_forbidden, d, day, days, dec, float, json_report,
    wait_gauge,
};
use crate::support::{str_of, unique_word, Bought, Platform, User};
use chrono::{Duration, NaiveDate};
use platform::clock::Clock;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The instructor's 70 % of `amount` (of a list price, or of a partial refund), half-even.
fn share(amount: Decimal) -> Decimal {
    (amount * d("0.70")).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// Tokens a paid course purchase earns (rule `course_purchased`: 10 + 1 per whole USD paid).
fn earned_for(paid: Decimal) -> i64 {
    10 + paid.floor().to_i64().expect("small")
}

/// One line of the sales ledger as the test knows it.
#[derive(Debug, Clone)]
struct Line {
    day: NaiveDate,
    course: String,
    instructor: Uuid,
    refund: bool,
    /// What the buyer paid (a sale) or got back (a refund).
    amount: Decimal,
    discount: Decimal,
    /// The instructor's part of `amount` (a sale: 70 % of the list price; a reversal: of the
    /// refund, the whole share when the whole sale is refunded).
    instructor_part: Decimal,
}

impl Line {
    fn platform_part(&self) -> Decimal {
        self.amount - self.instructor_part
    }
    fn signed(&self, v: Decimal) -> Decimal {
        if self.refund {
            -v
        } else {
            v
        }
    }
}

/// A day's row of the marketplace report, from the lines.
#[derive(Debug, Default, PartialEq)]
struct SalesDay {
    sales: i64,
    refunds: i64,
    gross_sales: Decimal,
    refunded: Decimal,
    discounts: Decimal,
    instructor_revenue: Decimal,
    platform_revenue: Decimal,
}

fn sales_day(lines: &[Line], on: NaiveDate) -> SalesDay {
    let mut e = SalesDay::default();
    for l in lines.iter().filter(|l| l.day == on) {
        if l.refund {
            e.refunds += 1;
            e.refunded += l.amount;
        } else {
            e.sales += 1;
            e.gross_sales += l.amount;
            e.discounts += l.discount;
        }
        e.instructor_revenue += l.signed(l.instructor_part);
        e.platform_revenue += l.signed(l.platform_part());
    }
    e
}

/// An instructor's course in a day: sales, refunds, gross sales, refunded, earnings.
type CourseDay = (i64, i64, Decimal, Decimal, Decimal);

/// Tokens moved in a day, by ledger kind, as the test did them.
#[derive(Debug, Default, PartialEq, Clone, Copy)]
struct Flow {
    earned: i64,
    awarded: i64,
    redeemed: i64,
    clawed_back: i64,
}

impl Flow {
    fn net(&self) -> i64 {
        self.earned + self.awarded - self.redeemed - self.clawed_back
    }
}

/// The facts of this flow: ledger lines, token flows per day and each learner's balance.
#[derive(Default)]
struct Facts {
    lines: Vec<Line>,
    flows: BTreeMap<NaiveDate, Flow>,
    balances: Vec<(User, i64)>,
}

impl Facts {
    fn flow(&mut self, on: NaiveDate) -> &mut Flow {
        self.flows.entry(on).or_default()
    }
    fn balance(&mut self, who: &User) -> &mut i64 {
        if let Some(i) = self.balances.iter().position(|(u, _)| u.id == who.id) {
            return &mut self.balances[i].1;
        }
        self.balances.push((who.clone(), 0));
        &mut self.balances.last_mut().expect("pushed").1
    }
    fn earn(&mut self, on: NaiveDate, who: &User, tokens: i64) {
        self.flow(on).earned += tokens;
        *self.balance(who) += tokens;
    }
    fn award_and_redeem(&mut self, on: NaiveDate, who: &User, tokens: i64) {
        self.flow(on).awarded += tokens;
        self.flow(on).redeemed += tokens;
        self.balance(who);
    }
    fn claw(&mut self, on: NaiveDate, who: &User, tokens: i64) {
        self.flow(on).clawed_back += tokens;
        *self.balance(who) -= tokens;
    }
}

/// Award `learner` the tokens of a course voucher and redeem them; the voucher's code.
async fn voucher(p: &Platform, admin: &User, learner: &User, cost: i64) -> String {
    let award = json!({"user_id": learner.id, "amount": cost, "reason": "e2e: reports"});
    let awarded = p.post_key(admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
    assert_eq!(awarded.status, 201, "{}", awarded.body);
    let redeemed =
        p.post_key(learner, "/api/tokens/redeem", json!({"item": "course_voucher"}), &Uuid::new_v4().to_string()).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    str_of(&redeemed.body["voucher"]["code"])
}

/// Refund `amount` (all when `None`) of `bought` as an admin, and wait until marketplace booked it.
async fn refund(p: &Platform, admin: &User, bought: &Bought, amount: Option<&str>, reason: &str) {
    let body = match amount {
        Some(a) => json!({"amount": a, "reason": reason}),
        None => json!({"reason": reason}),
    };
    let path = format!("/api/payments/{}/refunds", bought.payment_id);
    let res = p.post_key(admin, &path, body, &Uuid::new_v4().to_string()).await;
    assert!(res.is_success(), "refund: {} {}", res.status, res.body);
    p.events.wait_for("marketplace.purchase.refunded.v1", |e| e["purchase_id"] == bought.purchase_id.as_str()).await;
}

fn rows(report: &Value) -> Vec<Value> {
    report["data"].as_array().expect("data").clone()
}

/// The payouts snapshot's USD row as (pending, available, in_payout, paid).
async fn payout_states(p: &Platform, admin: &User) -> (Decimal, Decimal, Decimal, Decimal) {
    let snapshot = json_report(p, admin, "/api/admin/reports/marketplace/payouts").await;
    let data = rows(&snapshot);
    assert_eq!(data.len(), 1, "one currency sold: {snapshot}");
    let usd = &data[0];
    assert_eq!(usd["currency"], "USD");
    (dec(usd, "pending"), dec(usd, "available"), dec(usd, "in_payout"), dec(usd, "paid"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketplace_and_rewards_reports_reconcile_with_sales_refunds_and_tokens_through_the_gateway() {
    let p = Platform::start().await;
    let admin = User::admin();
    let (alice, bob) = (User::instructor(), User::instructor());
    let word = unique_word();
    let c1 = str_of(&p.publish_course(&alice, &format!("{word} ledgers in depth"), "60.00").await["id"]);
    let c2 = str_of(&p.publish_course(&alice, &format!("{word} ledgers in brief"), "15.00").await["id"]);
    let c3 = str_of(&p.publish_course(&bob, &format!("{word} payouts"), "25.00").await["id"]);
    let catalog = json_report(&p, &User::learner(), "/api/tokens/catalog").await;
    let item = |name: &str| rows(&catalog).into_iter().find(|i| i["item"] == name).expect("on the catalogue");
    let voucher_cost = item("course_voucher")["cost"].as_i64().expect("cost");
    let voucher_value = dec(&item("course_voucher")["voucher_value"], "amount");
    assert_eq!(voucher_value, d("5.00"), "{catalog}");

    let t0 = p.marketplace_clock.now();
    assert_eq!(t0, p.rewards_clock.now(), "the clocks start together");
    let d0 = day(t0);
    let mut f = Facts::default();
    let sale = |on, course: &str, instructor: &User, list: &str, paid: &str| Line {
        day: on,
        course: course.to_string(),
        instructor: instructor.id,
        refund: false,
        amount: d(paid),
        discount: d(list) - d(paid),
        instructor_part: share(d(list)),
    };

    // Day 0: three sales at list price, one paid partly by a reward voucher.
    let (l1, l2, l3, l4, l5) = (User::learner(), User::learner(), User::learner(), User::learner(), User::learner());
    p.buy(&l1, &c1).await;
    f.lines.push(sale(d0, &c1, &alice, "60.00", "60.00"));
    f.earn(d0, &l1, earned_for(d("60.00")));
    let s2 = p.buy(&l2, &c1).await;
    f.lines.push(sale(d0, &c1, &alice, "60.00", "60.00"));
    f.earn(d0, &l2, earned_for(d("60.00")));
    let s3 = p.buy(&l3, &c3).await;
    f.lines.push(sale(d0, &c3, &bob, "25.00", "25.00"));
    f.earn(d0, &l3, earned_for(d("25.00")));
    let code = voucher(&p, &admin, &l4, voucher_cost).await;
    f.award_and_redeem(d0, &l4, voucher_cost);
    let body = json!({"course_id": c2, "voucher_code": code});
    let res = p.post_key(&l4, "/api/courses/purchase", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["amount_paid"]["amount"], "10.00", "{}", res.body);
    p.confirm(&res.body["client_secret"], "pm_card_visa");
    p.wait_owned(&l4, &c2).await;
    f.lines.push(sale(d0, &c2, &alice, "15.00", "10.00"));
    f.earn(d0, &l4, earned_for(d("10.00")));

    // The second sale refunded in full (access ends: every token it earned is clawed back); the
    // third refunded 5.00 as goodwill (access kept: tokens clawed back in proportion, rounded
    // down).
    refund(&p, &admin, &s2, None, "requested_by_customer").await;
    f.lines.push(Line { refund: true, ..sale(d0, &c1, &alice, "60.00", "60.00") });
    f.claw(d0, &l2, earned_for(d("60.00")));
    refund(&p, &admin, &s3, Some("5.00"), "goodwill").await;
    f.lines.push(Line { refund: true, instructor_part: share(d("5.00")), ..sale(d0, &c3, &bob, "5.00", "5.00") });
    let goodwill = (Decimal::from(earned_for(d("25.00"))) * d("5.00") / d("25.00")).floor().to_i64().expect("small");
    f.claw(d0, &l3, goodwill);
    // Rewards has applied every fact of day 0 before its clock moves.
    for (who, want) in f.balances.clone() {
        p.eventually(&format!("balance {want}"), || async { (p.balance(&who).await == want).then_some(()) }).await;
    }
    let vouchers_path = format!("/api/admin/reports/rewards/vouchers?{}", days(d0, 32));
    p.eventually("the voucher used", || async {
        let r = json_report(&p, &admin, &vouchers_path).await;
        (r["data"][0]["used"] == 1).then_some(())
    })
    .await;

    // The marketplace report read on day 0 (live), kept to compare with the same day read a
    // month later (from the day summaries).
    let market_path = format!("/api/admin/reports/marketplace?{}", days(d0, 32));
    let day0_live = rows(&json_report(&p, &admin, &market_path).await)[0].clone();

    // A month later: day 0's earnings are past the 30-day refund window.
    let t1 = t0 + Duration::days(31);
    let d1 = day(t1);
    p.marketplace_clock.set(t1);
    p.rewards_clock.set(t1);
    // Day 0 is closed now: the first reads summarise it, several at once (through every gateway,
    // to every replica when there are several), and all answer the same.
    let tokens_path = format!("/api/admin/reports/rewards?{}", days(d0, 32));
    let reads = futures_util::future::join_all(
        (0..6).map(|i| json_report(&p, &admin, if i % 2 == 0 { &market_path } else { &tokens_path })),
    )
    .await;
    for (i, read) in reads.iter().enumerate() {
        assert_eq!(read["data"], reads[i % 2]["data"], "concurrent reads agree");
    }
    assert_eq!(reads[0]["data"][0], day0_live, "a closed day reports what it reported live");
    let booked: Decimal = f.lines.iter().map(|l| l.signed(l.instructor_part)).sum();
    p.eventually("day 0's earnings to mature", || async {
        let (pending, available, _, _) = payout_states(&p, &admin).await;
        (pending.is_zero() && available == booked).then_some(())
    })
    .await;
    let net_of = |lines: &[Line], who: &User| -> Decimal {
        lines.iter().filter(|l| l.instructor == who.id).map(|l| l.signed(l.instructor_part)).sum()
    };
    let alice_net = net_of(&f.lines, &alice);
    assert!(alice_net >= d("50.00"), "above the minimum payout: {alice_net}");
    let payout = p.post_key(&alice, "/api/instructors/me/payouts", json!({}), &Uuid::new_v4().to_string()).await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    let payout_id = str_of(&payout.body["id"]);
    // Day 1: a sale (pending), and a voucher redeemed but not used.
    let before_day1 = f.lines.clone();
    p.buy(&l5, &c3).await;
    f.lines.push(sale(d1, &c3, &bob, "25.00", "25.00"));
    f.earn(d1, &l5, earned_for(d("25.00")));
    voucher(&p, &admin, &l5, voucher_cost).await;
    f.award_and_redeem(d1, &l5, voucher_cost);

    // Payouts: alice's whole net in payout; bob's day-0 net owed (available); day 1 pending.
    let owed_bob = net_of(&before_day1, &bob);
    let pending = share(d("25.00"));
    let zero = d("0.00");
    assert_eq!(payout_states(&p, &admin).await, (pending, owed_bob, alice_net, zero));
    // Each instructor's own earnings add up to the same states.
    let mut by_status: BTreeMap<String, Decimal> = BTreeMap::new();
    for who in [&alice, &bob] {
        let e = json_report(&p, who, "/api/instructors/me/earnings").await;
        for (status, money) in e["totals"][0]["by_status"].as_object().expect("by_status") {
            *by_status.entry(status.clone()).or_default() += dec(money, "amount");
        }
    }
    let states = [("pending", pending), ("available", owed_bob), ("in_payout", alice_net), ("paid", zero)];
    for (status, want) in states {
        assert_eq!(by_status[status], want, "{status}");
    }
    // The dashboards' gauge of payouts owed shows the same amounts.
    for (state, want) in &states[..3] {
        let labels = [("state", *state), ("currency", "USD")];
        wait_gauge(&p, "marketplace", "monetization_marketplace_payouts_owed", &labels, float(*want)).await;
    }
    let payouts_csv = "/api/admin/reports/marketplace/payouts";
    let snapshot = json_report(&p, &admin, payouts_csv).await;
    assert_csv_matches(&p, &admin, payouts_csv, &rows(&snapshot)).await;
    let res = p.post(&admin, &format!("/api/marketplace/payouts/{payout_id}/mark-paid"), json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(payout_states(&p, &admin).await, (pending, owed_bob, zero, alice_net));

    // The GMV report, day by day: every day of the range, zeros where nothing happened.
    let report = json_report(&p, &admin, &market_path).await;
    let data = rows(&report);
    assert_eq!(data.len(), 32, "one USD row per day: {report}");
    for (i, row) in data.iter().enumerate() {
        let on = d0 + Duration::days(i as i64);
        assert_eq!(row["period_start"], format!("{on}T00:00:00Z"), "{row}");
        assert_eq!(row["currency"], "USD", "{row}");
        let got = SalesDay {
            sales: row["sales"].as_i64().expect("sales"),
            refunds: row["refunds"].as_i64().expect("refunds"),
            gross_sales: dec(row, "gross_sales"),
            refunded: dec(row, "refunded"),
            discounts: dec(row, "discounts"),
            instructor_revenue: dec(row, "instructor_revenue"),
            platform_revenue: dec(row, "platform_revenue"),
        };
        assert_eq!(got, sales_day(&f.lines, on), "{on}: {row}");
        // The invariants: GMV = gross - refunded = instructor + platform revenue.
        assert_eq!(dec(row, "gmv"), got.gross_sales - got.refunded, "{row}");
        assert_eq!(dec(row, "gmv"), got.instructor_revenue + got.platform_revenue, "{row}");
    }
    assert_eq!(data[0], day0_live, "a closed day reports what it reported live");
    let expected0 = sales_day(&f.lines, d0);
    assert_eq!((expected0.sales, expected0.refunds, expected0.discounts), (4, 2, d("5.00")));
    // Everything booked to instructors is in exactly one payout state.
    let revenue: Decimal = data.iter().map(|r| dec(r, "instructor_revenue")).sum();
    assert_eq!(revenue, pending + owed_bob + alice_net);
    assert_csv_matches(&p, &admin, &market_path, &data).await;
    // The same facts by week add up to the same totals.
    let weekly = rows(&json_report(&p, &admin, &market_path.replace("interval=day", "interval=week")).await);
    for field in ["gross_sales", "refunded", "discounts", "gmv", "instructor_revenue", "platform_revenue"] {
        let by_week: Decimal = weekly.iter().map(|r| dec(r, field)).sum();
        let by_day: Decimal = data.iter().map(|r| dec(r, field)).sum();
        assert_eq!(by_week, by_day, "{field}");
    }

    // Top courses over the range, by revenue (GMV) and by sales (ties by revenue).
    let range = format!("from={d0}&to={}", d0 + Duration::days(32));
    let per_course = |course: &str| {
        let of = f.lines.iter().filter(|l| l.course == course);
        let revenue: Decimal = of.clone().map(|l| l.signed(l.amount)).sum();
        let sales = of.clone().filter(|l| !l.refund).count() as i64;
        (revenue, sales, of.filter(|l| l.refund).count() as i64)
    };
    for (by, order) in [("revenue", [&c1, &c3, &c2]), ("sales", [&c1, &c3, &c2])] {
        let path = format!("/api/admin/reports/marketplace/top-courses?{range}&by={by}");
        let top = json_report(&p, &admin, &path).await;
        let ranked = rows(&top);
        let ids: Vec<&str> = ranked.iter().map(|r| r["course_id"].as_str().expect("id")).collect();
        assert_eq!(ids, order.map(String::as_str), "{top}");
        for (i, r) in ranked.iter().enumerate() {
            let (revenue, sales, refunds) = per_course(r["course_id"].as_str().expect("id"));
            assert_eq!(r["rank"], i + 1, "{r}");
            assert_eq!(
                (dec(r, "revenue"), r["sales"].as_i64(), r["refunds"].as_i64()),
                (revenue, Some(sales), Some(refunds))
            );
        }
        assert_csv_matches(&p, &admin, &path, &ranked).await;
    }
    let top1 = json_report(&p, &admin, &format!("/api/admin/reports/marketplace/top-courses?{range}&limit=1")).await;
    assert_eq!(rows(&top1).len(), 1, "{top1}");
    let zero_limit = format!("/api/admin/reports/marketplace/top-courses?{range}&limit=0");
    assert_bad_range(&p, &admin, &zero_limit, "limit").await;

    // Each instructor's own sales: only their courses, per day and course, and nothing else.
    let mine = format!("/api/instructors/me/reports/sales?{}", days(d0, 32));
    for (who, courses) in [(&alice, vec![&c1, &c2]), (&bob, vec![&c3])] {
        let report = json_report(&p, who, &mine).await;
        let data = rows(&report);
        let mut expected: BTreeMap<(NaiveDate, String), CourseDay> = BTreeMap::new();
        for l in f.lines.iter().filter(|l| l.instructor == who.id) {
            let e = expected.entry((l.day, l.course.clone())).or_default();
            if l.refund {
                e.1 += 1;
                e.3 += l.amount;
            } else {
                e.0 += 1;
                e.2 += l.amount;
            }
            e.4 += l.signed(l.instructor_part);
        }
        let mut got = BTreeMap::new();
        for r in &data {
            let course = str_of(&r["course_id"]);
            assert!(courses.contains(&&course), "only the caller's courses: {r}");
            let on =
                NaiveDate::parse_from_str(&r["period_start"].as_str().expect("start")[..10], "%Y-%m-%d").expect("date");
            let row = (
                r["sales"].as_i64().expect("sales"),
                r["refunds"].as_i64().expect("refunds"),
                dec(r, "gross_sales"),
                dec(r, "refunded"),
                dec(r, "earnings"),
            );
            assert!(got.insert((on, course), row).is_none(), "one row per day and course: {report}");
        }
        assert_eq!(got, expected, "{report}");
        assert_csv_matches(&p, who, &mine, &data).await;
    }

    // Rewards: token flows per day, each kind as the test moved them.
    let report = json_report(&p, &admin, &tokens_path).await;
    let data = rows(&report);
    assert_eq!(data.len(), 32, "{report}");
    for (i, row) in data.iter().enumerate() {
        let on = d0 + Duration::days(i as i64);
        let want = f.flows.get(&on).copied().unwrap_or_default();
        let got = Flow {
            earned: row["earned"].as_i64().expect("earned"),
            awarded: row["awarded"].as_i64().expect("awarded"),
            redeemed: row["redeemed"].as_i64().expect("redeemed"),
            clawed_back: row["clawed_back"].as_i64().expect("clawed_back"),
        };
        assert_eq!(got, want, "{on}: {row}");
        assert_eq!(row["expired"], 0, "{row}");
        assert_eq!(row["net"], want.net(), "{row}");
    }
    assert_csv_matches(&p, &admin, &tokens_path, &data).await;

    // Outstanding tokens = the ledger's sum = every balance; their liability at the catalogue's
    // best value per token (a course voucher: 5.00 for its cost, against a Pro month's 9.99).
    let ledger_sum: i64 = data.iter().map(|r| r["net"].as_i64().expect("net")).sum();
    let balances: i64 = f.balances.iter().map(|(_, b)| b).sum();
    let mut read = 0;
    for (who, want) in &f.balances {
        let b = p.balance(who).await;
        assert_eq!(b, *want);
        read += b;
    }
    assert_eq!((ledger_sum, read), (balances, balances));
    let pro_cost = item("pro_month")["cost"].as_i64().expect("cost");
    assert!(
        voucher_value / Decimal::from(voucher_cost) > d("9.99") / Decimal::from(pro_cost),
        "the voucher values a token best"
    );
    let liability = json_report(&p, &admin, "/api/admin/reports/rewards/liability").await;
    assert_eq!(liability["outstanding_tokens"], balances, "{liability}");
    assert_eq!(liability["debt_tokens"], 0, "{liability}");
    assert_eq!(liability["holders"], f.balances.iter().filter(|(_, b)| *b > 0).count(), "{liability}");
    let usd = rows(&liability).into_iter().find(|r| r["currency"] == "USD").expect("a USD row");
    let value = (Decimal::from(balances) * voucher_value / Decimal::from(voucher_cost))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    assert_eq!((usd["valued_by"].as_str(), usd["item_cost"].as_i64()), (Some("course_voucher"), Some(voucher_cost)));
    assert_eq!((dec(&usd, "item_value"), dec(&usd, "token_liability")), (voucher_value, value), "{liability}");
    assert_eq!((usd["open_vouchers"].as_i64(), dec(&usd, "open_voucher_value")), (Some(1), voucher_value));
    assert_csv_matches(&p, &admin, "/api/admin/reports/rewards/liability", &rows(&liability)).await;
    wait_gauge(&p, "rewards", "monetization_rewards_tokens_outstanding", &[], balances as f64).await;

    // Vouchers: day 0 one issued and used, day 1 one issued and still open.
    let report = json_report(&p, &admin, &vouchers_path).await;
    let data = rows(&report);
    assert_eq!(data.len(), 32, "{report}");
    for (i, row) in data.iter().enumerate() {
        let (issued, used) = match i {
            0 => (1, 1),
            31 => (1, 0),
            _ => (0, 0),
        };
        assert_eq!(row["currency"], "USD");
        assert_eq!(
            (row["issued"].as_i64(), row["used"].as_i64(), row["expired"].as_i64()),
            (Some(issued), Some(used), Some(0)),
            "{row}"
        );
        assert_eq!(dec(row, "issued_value"), voucher_value * Decimal::from(issued), "{row}");
        assert_eq!(dec(row, "used_value"), voucher_value * Decimal::from(used), "{row}");
    }
    assert_csv_matches(&p, &admin, &vouchers_path, &data).await;

    // Admins only (an instructor, a learner: 403); the instructor report is an instructor's.
    let q = days(d0, 2);
    for path in [
        format!("/api/admin/reports/marketplace?{q}"),
        "/api/admin/reports/marketplace/payouts".to_string(),
        format!("/api/admin/reports/marketplace/top-courses?{range}"),
        format!("/api/admin/reports/rewards?{q}"),
        format!("/api/admin/reports/rewards/vouchers?{q}"),
        "/api/admin/reports/rewards/liability".to_string(),
    ] {
        assert_forbidden(&p, &alice, &path).await;
        assert_forbidden(&p, &l1, &path).await;
    }
    assert_forbidden(&p, &l1, &format!("/api/instructors/me/reports/sales?{q}")).await;
    let other = format!("/api/instructors/me/reports/sales?{q}&instructor_id={}", bob.id);
    assert_bad_range(&p, &alice, &other, "query.instructor_id").await;
    for base in ["/api/admin/reports/marketplace", "/api/admin/reports/rewards", "/api/admin/reports/rewards/vouchers"]
    {
        assert_bad_ranges(&p, &admin, base).await;
    }
    assert_bad_ranges(&p, &bob, "/api/instructors/me/reports/sales").await;
    assert_bad_range(&p, &admin, &format!("/api/admin/reports/marketplace/top-courses?from={d1}&to={d0}"), "to").await;
    p.stop().await;
}
