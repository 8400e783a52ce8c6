//! Issue 19 through the gateway: the licensing reports (licenses and seats by status, utilization
//! per organisation, the 30/60/90-day renewal pipeline, SLA tickets and breaches by priority)
//! after licenses created, seats activated, licenses suspended, revoked and expired, and tickets
//! answered on time or late on licensing's clock. Expected numbers are counted here from what the
//! test did.

use crate::reports::{
    assert_bad_range, assert_bad_ranges, assert_csv_matches, assert_forbidden, day, days, json_report,
};
use crate::support::{str_of, Platform, User};
use chrono::{DateTime, Duration, Utc};
use platform::clock::Clock;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use uuid::Uuid;

/// One license as planned: seats, term left, seats taken, what happens to it.
struct Plan {
    seats: i64,
    ends_in: Duration,
    taken: usize,
    fate: Fate,
}

#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Active,
    Suspended,
    Revoked,
    /// Ends before the clock's jump: the scheduler expires it and releases its seats.
    Expires,
}

struct License {
    id: String,
    organization: String,
    members: Vec<User>,
}

/// `used / sold` as the reports write a rate: 4 places half-even, no trailing zeros; `null` over 0.
fn rate(used: i64, sold: i64) -> Value {
    if sold == 0 {
        return Value::Null;
    }
    let r = (Decimal::from(used) / Decimal::from(sold))
        .round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven)
        .normalize();
    json!(r.to_string())
}

fn rows(report: &Value) -> Vec<Value> {
    report["data"].as_array().expect("data").clone()
}

async fn create(p: &Platform, admin: &User, now: DateTime<Utc>, plan: &Plan) -> License {
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let body = json!({
        "organization": {"name": format!("Reports {suffix}"), "domain": format!("reports-{suffix}.example.com")},
        "seats": plan.seats, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + plan.ends_in,
    });
    let created = p.post_key(admin, "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let key = str_of(&created.body["license_key"]);
    let mut members = Vec::new();
    for _ in 0..plan.taken {
        let member = User::learner();
        let seat = p.post(&member, "/api/enterprise/licenses/activate", json!({"license_key": key})).await;
        assert_eq!(seat.status, 201, "{}", seat.body);
        members.push(member);
    }
    License { id: str_of(&created.body["id"]), organization: str_of(&created.body["organization"]["id"]), members }
}

/// The licenses-by-status snapshot as (status, licenses, seats_sold, seats_used, utilization).
async fn by_status(p: &Platform, admin: &User) -> Vec<(String, i64, i64, i64, Value)> {
    let report = json_report(p, admin, "/api/admin/reports/licensing/licenses").await;
    rows(&report)
        .iter()
        .map(|r| {
            (
                str_of(&r["status"]),
                r["licenses"].as_i64().expect("licenses"),
                r["seats_sold"].as_i64().expect("seats_sold"),
                r["seats_used"].as_i64().expect("seats_used"),
                r["utilization"].clone(),
            )
        })
        .collect()
}

/// What the test expects of `by_status`, from the plans; `expired` tells whether the scheduler has
/// expired the last license yet.
fn expected_by_status(plans: &[Plan], expired: bool) -> Vec<(String, i64, i64, i64, Value)> {
    let in_status = |fate: &[Fate]| -> Vec<&Plan> { plans.iter().filter(|p| fate.contains(&p.fate)).collect() };
    let row = |status: &str, of: Vec<&Plan>, released: bool| {
        let sold: i64 = of.iter().map(|p| p.seats).sum();
        let used: i64 = if released { 0 } else { of.iter().map(|p| p.taken as i64).sum() };
        (status.to_string(), of.len() as i64, sold, used, rate(used, sold))
    };
    let active: Vec<&Plan> =
        if expired { in_status(&[Fate::Active]) } else { in_status(&[Fate::Active, Fate::Expires]) };
    let gone: Vec<&Plan> = if expired { in_status(&[Fate::Expires]) } else { Vec::new() };
    vec![
        row("active", active, false),
        row("suspended", in_status(&[Fate::Suspended]), false),
        row("revoked", in_status(&[Fate::Revoked]), false),
        row("expired", gone, true),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licensing_reports_reconcile_with_licenses_seats_and_sla_tickets_through_the_gateway() {
    let p = Platform::start().await;
    let admin = User::admin();
    let t0 = p.licensing_clock.now();
    let plans = [
        Plan { seats: 10, ends_in: Duration::days(20), taken: 3, fate: Fate::Active },
        Plan { seats: 5, ends_in: Duration::days(50), taken: 5, fate: Fate::Active },
        Plan { seats: 4, ends_in: Duration::days(80), taken: 1, fate: Fate::Active },
        Plan { seats: 3, ends_in: Duration::days(365), taken: 0, fate: Fate::Suspended },
        Plan { seats: 2, ends_in: Duration::days(365), taken: 0, fate: Fate::Revoked },
        Plan { seats: 2, ends_in: Duration::hours(2), taken: 1, fate: Fate::Expires },
    ];
    let mut licenses = Vec::new();
    for plan in &plans {
        licenses.push(create(&p, &admin, t0, plan).await);
    }
    for (plan, license) in plans.iter().zip(&licenses) {
        let action = match plan.fate {
            Fate::Suspended => "suspend",
            Fate::Revoked => "revoke",
            _ => continue,
        };
        let res = p
            .post(&admin, &format!("/api/enterprise/licenses/{}/{action}", license.id), json!({"reason": "e2e"}))
            .await;
        assert_eq!(res.status, 200, "{action}: {}", res.body);
    }

    // Licenses by status now: every status listed, the rates of seats used to sold.
    let licenses_path = "/api/admin/reports/licensing/licenses";
    assert_eq!(by_status(&p, &admin).await, expected_by_status(&plans, false));
    assert_csv_matches(&p, &admin, licenses_path, &rows(&json_report(&p, &admin, licenses_path).await)).await;

    // Utilization of the organisations with an active license, least used first (ties by id).
    let utilization_path = "/api/admin/reports/licensing/utilization";
    let util = json_report(&p, &admin, utilization_path).await;
    let mut want: Vec<(String, i64, i64, Value)> = plans
        .iter()
        .zip(&licenses)
        .filter(|(plan, _)| matches!(plan.fate, Fate::Active | Fate::Expires))
        .map(|(plan, l)| (l.organization.clone(), plan.seats, plan.taken as i64, rate(plan.taken as i64, plan.seats)))
        .collect();
    want.sort_by(|a, b| {
        let share = |x: &(String, i64, i64, Value)| Decimal::from(x.2) / Decimal::from(x.1);
        share(a).cmp(&share(b)).then_with(|| a.0.cmp(&b.0))
    });
    let got: Vec<(String, i64, i64, Value)> = rows(&util)
        .iter()
        .map(|r| {
            assert_eq!(r["active_licenses"], 1, "{r}");
            (
                str_of(&r["organization_id"]),
                r["seats_sold"].as_i64().expect("seats_sold"),
                r["seats_used"].as_i64().expect("seats_used"),
                r["utilization"].clone(),
            )
        })
        .collect();
    assert_eq!(got, want, "{util}");
    assert_csv_matches(&p, &admin, utilization_path, &rows(&util)).await;
    let two = json_report(&p, &admin, &format!("{utilization_path}?limit=2")).await;
    assert_eq!(rows(&two).len(), 2, "{two}");
    assert_bad_range(&p, &admin, &format!("{utilization_path}?limit=0"), "limit").await;
    assert_bad_range(&p, &admin, &format!("{utilization_path}?limit=1001"), "limit").await;

    // The renewal pipeline: active or suspended licenses ending within 30, 60 and 90 days.
    let renewals_path = "/api/admin/reports/licensing/renewals";
    let pipeline = |now_offset: Duration, expired: bool| -> Vec<(i64, i64, i64)> {
        [30, 60, 90]
            .iter()
            .map(|&within| {
                let ending: Vec<&Plan> = plans
                    .iter()
                    .filter(|p| {
                        matches!(p.fate, Fate::Active | Fate::Suspended) || (p.fate == Fate::Expires && !expired)
                    })
                    .filter(|p| p.ends_in > now_offset && p.ends_in <= now_offset + Duration::days(within))
                    .collect();
                (within, ending.len() as i64, ending.iter().map(|p| p.seats).sum())
            })
            .collect()
    };
    let read_pipeline = |report: &Value| -> Vec<(i64, i64, i64)> {
        rows(report)
            .iter()
            .map(|r| {
                (
                    r["within_days"].as_i64().expect("within"),
                    r["licenses"].as_i64().expect("licenses"),
                    r["seats"].as_i64().expect("seats"),
                )
            })
            .collect()
    };
    let renewals = json_report(&p, &admin, renewals_path).await;
    assert_eq!(read_pipeline(&renewals), pipeline(Duration::zero(), false), "{renewals}");
    assert_eq!(read_pipeline(&renewals), [(30, 2, 12), (60, 3, 17), (90, 4, 21)], "the plan, counted by hand");
    assert_csv_matches(&p, &admin, renewals_path, &rows(&renewals)).await;

    // Tickets on the SLA clock (enterprise: P1 answered within 60 min and resolved within 240,
    // P2 within 240 and 1440, both around the clock): a P1 never answered, a P2 answered and
    // resolved at once.
    let tickets = "/api/enterprise/support/tickets";
    let file = |member: &User, priority: &str| {
        let body = json!({"subject": "SSO fails", "description": "since this morning", "priority": priority});
        let member = member.clone();
        let p = &p;
        async move {
            let res = p.post(&member, tickets, body).await;
            assert_eq!(res.status, 201, "{}", res.body);
            str_of(&res.body["id"])
        }
    };
    let _late = file(&licenses[0].members[0], "P1").await;
    let on_time = file(&licenses[1].members[0], "P2").await;
    let res = p.post(&admin, &format!("{tickets}/{on_time}/comments"), json!({"body": "Fixed"})).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let res = p.post(&admin, &format!("{tickets}/{on_time}/status"), json!({"status": "resolved"})).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // Five hours later: the P1 breached both targets, the short license has expired.
    p.licensing_clock.advance(Duration::hours(5));
    let d0 = day(t0);
    let tickets_path = format!("/api/admin/reports/licensing?{}", days(d0, 2));
    p.eventually("the P1 to breach both targets", || async {
        let r = json_report(&p, &admin, &tickets_path).await;
        (r["data"][0]["first_response_breached"] == 1 && r["data"][0]["resolution_breached"] == 1).then_some(())
    })
    .await;
    p.eventually("the short license to expire", || async {
        (by_status(&p, &admin).await == expected_by_status(&plans, true)).then_some(())
    })
    .await;
    let renewals = json_report(&p, &admin, renewals_path).await;
    assert_eq!(read_pipeline(&renewals), pipeline(Duration::hours(5), true), "{renewals}");

    // Tickets per day and priority, every priority in every day; a ticket breached both ways
    // counts once.
    let report = json_report(&p, &admin, &tickets_path).await;
    let data = rows(&report);
    let got: Vec<(String, String, i64, i64, i64, i64, Value)> = data
        .iter()
        .map(|r| {
            (
                r["period_start"].as_str().expect("start")[..10].to_string(),
                str_of(&r["priority"]),
                r["opened"].as_i64().expect("opened"),
                r["breached"].as_i64().expect("breached"),
                r["first_response_breached"].as_i64().expect("first"),
                r["resolution_breached"].as_i64().expect("resolution"),
                r["breach_rate"].clone(),
            )
        })
        .collect();
    let mut want = Vec::new();
    for n in 0..2 {
        let on = (d0 + Duration::days(n)).to_string();
        for priority in ["P1", "P2", "P3", "P4"] {
            let (opened, breached, first, resolution) = match (n, priority) {
                (0, "P1") => (1, 1, 1, 1),
                (0, "P2") => (1, 0, 0, 0),
                _ => (0, 0, 0, 0),
            };
            want.push((on.clone(), priority.to_string(), opened, breached, first, resolution, rate(breached, opened)));
        }
    }
    assert_eq!(got, want, "{report}");
    assert_csv_matches(&p, &admin, &tickets_path, &data).await;

    // Admins only: an organisation's admin and a member get 403; bad ranges are named.
    let org_admin = User::org_admin(licenses[0].organization.parse().expect("uuid"));
    for path in [tickets_path.as_str(), licenses_path, utilization_path, renewals_path] {
        assert_forbidden(&p, &org_admin, path).await;
        assert_forbidden(&p, &licenses[0].members[0], path).await;
    }
    assert_bad_ranges(&p, &admin, "/api/admin/reports/licensing").await;
    p.stop().await;
}
