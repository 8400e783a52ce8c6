//! Issue 19: the licensing reports reconciled with licenses, seats and support tickets driven
//! through the API on a moved clock. Expected numbers are counted here from what the test did.

use crate::support::{id_of, key_of, org_of, Caller, Stack};
use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;

fn at(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, m, d, h, 0, 0).unwrap()
}

async fn admin_json(s: &Stack, path: &str) -> Value {
    let res = s.get(path, &s.admin).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

async fn ticket(s: &Stack, org: uuid::Uuid, priority: &str) -> String {
    let body = json!({"subject": "Cannot sign in", "description": "SSO fails", "priority": priority});
    let res = s.post("/api/enterprise/support/tickets", &Caller::member(org), body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    id_of(&res.json().await.unwrap())
}

/// An agent answers and resolves the ticket now.
async fn answer_and_resolve(s: &Stack, id: &str) {
    let path = format!("/api/enterprise/support/tickets/{id}/comments");
    assert_eq!(s.post(&path, &s.admin, json!({"body": "Fixed"})).await.status(), 201);
    let path = format!("/api/enterprise/support/tickets/{id}/status");
    assert_eq!(s.post(&path, &s.admin, json!({"status": "resolved"})).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licenses_seats_renewals_and_sla_tickets_reconcile_with_the_reports() {
    let s = Stack::start_at(at(1, 7, 10)).await;
    // Four licenses: (seats, days left, seats taken); the last one suspended.
    let plan = [(10, 20, 3), (5, 50, 5), (4, 80, 1), (3, 365, 0)];
    let mut licenses = Vec::new();
    for (seats, days, taken) in plan {
        let l = s.license_valid_for(seats, Duration::days(days)).await;
        for _ in 0..taken {
            assert_eq!(s.activate(&Caller::member(org_of(&l)), &key_of(&l)).await.status(), 201);
        }
        licenses.push(l);
    }
    let suspend = format!("/api/enterprise/licenses/{}/suspend", id_of(&licenses[3]));
    assert_eq!(s.post(&suspend, &s.admin, json!({"reason": "unpaid"})).await.status(), 200);

    // By status: the three active ones hold 19 seats, 9 used; the suspended one 3, none used.
    let by_status = admin_json(&s, "/api/admin/reports/licensing/licenses").await;
    let row = |status: &str| by_status["data"].as_array().unwrap().iter().find(|r| r["status"] == status).cloned();
    let active = row("active").unwrap();
    let (sold, used): (i64, i64) = plan[..3].iter().fold((0, 0), |(s, u), p| (s + i64::from(p.0), u + i64::from(p.2)));
    assert_eq!((active["licenses"].as_i64(), active["seats_sold"].as_i64()), (Some(3), Some(sold)), "{by_status}");
    assert_eq!(active["seats_used"].as_i64(), Some(used));
    assert_eq!(active["utilization"], "0.4737", "9 / 19 to 4 places");
    let suspended = row("suspended").unwrap();
    assert_eq!((suspended["licenses"].as_i64(), suspended["seats_sold"].as_i64()), (Some(1), Some(3)));
    assert_eq!(row("revoked").unwrap()["utilization"], Value::Null, "no seats: no rate");

    // Utilization of the organisations with an active license, least used first: 1/4, 3/10, 5/5.
    let util = admin_json(&s, "/api/admin/reports/licensing/utilization").await;
    let orgs: Vec<(String, String)> = util["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["organization_id"].as_str().unwrap().to_string(), r["utilization"].as_str().unwrap().to_string()))
        .collect();
    let org = |i: usize| org_of(&licenses[i]).to_string();
    assert_eq!(orgs, [(org(2), "0.25".to_string()), (org(0), "0.3".to_string()), (org(1), "1".to_string())], "{util}");

    // The renewal pipeline: within 30 days the first; 60 adds the second; 90 the third. The
    // suspended one ends in a year.
    let renewals = admin_json(&s, "/api/admin/reports/licensing/renewals").await;
    let windows: Vec<(i64, i64, i64)> = renewals["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["within_days"].as_i64().unwrap(), r["licenses"].as_i64().unwrap(), r["seats"].as_i64().unwrap()))
        .collect();
    assert_eq!(windows, [(30, 1, 10), (60, 2, 15), (90, 3, 19)], "{renewals}");

    // January: a P1 answered late (breached), a P3 answered in time. February: a P1 in time.
    let org_a = org_of(&licenses[0]);
    let late = ticket(&s, org_a, "P1").await;
    let on_time = ticket(&s, org_a, "P3").await;
    answer_and_resolve(&s, &on_time).await;
    s.clock.advance(Duration::minutes(61));
    let path = "/api/admin/reports/licensing?from=2030-01-01&to=2030-03-01&interval=month";
    testkit::eventually("the late P1 to breach", StdDuration::from_secs(10), || async {
        let r = admin_json(&s, path).await;
        (r["data"][0]["breached"] == 1).then_some(())
    })
    .await;
    answer_and_resolve(&s, &late).await;
    s.clock.set(at(2, 11, 9));
    // The first license has ended by now: the second organisation files it.
    let february = ticket(&s, org_of(&licenses[1]), "P1").await;
    s.clock.advance(Duration::minutes(30));
    answer_and_resolve(&s, &february).await;
    s.clock.advance(Duration::hours(6));
    tokio::time::sleep(StdDuration::from_millis(300)).await; // a few scheduler passes

    let report = admin_json(&s, path).await;
    let rows: Vec<(String, String, i64, i64, Value)> = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["period_start"].as_str().unwrap()[..7].to_string(),
                r["priority"].as_str().unwrap().to_string(),
                r["opened"].as_i64().unwrap(),
                r["breached"].as_i64().unwrap(),
                r["breach_rate"].clone(),
            )
        })
        .collect();
    let row = |m: &str, p: &str, o, b, rate: Value| (m.to_string(), p.to_string(), o, b, rate);
    assert_eq!(
        rows,
        [
            row("2030-01", "P1", 1, 1, json!("1")),
            row("2030-01", "P2", 0, 0, Value::Null),
            row("2030-01", "P3", 1, 0, json!("0")),
            row("2030-01", "P4", 0, 0, Value::Null),
            row("2030-02", "P1", 1, 0, json!("0")),
            row("2030-02", "P2", 0, 0, Value::Null),
            row("2030-02", "P3", 0, 0, Value::Null),
            row("2030-02", "P4", 0, 0, Value::Null),
        ],
        "{report}"
    );
    assert_eq!(report["data"][0]["first_response_breached"], 1);
    assert_eq!(report["data"][0]["resolution_breached"], 0);

    // CSV: the same rows, an empty cell for an unknown rate.
    let csv = s
        .req(Method::GET, path, Some(&s.admin))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "period_start,period_end,priority,opened,breached,first_response_breached,resolution_breached,breach_rate"
    );
    assert_eq!(lines.len(), 9);
    assert_eq!(lines[1], "2030-01-01T00:00:00Z,2030-02-01T00:00:00Z,P1,1,1,1,0,1");
    assert_eq!(lines[2], "2030-01-01T00:00:00Z,2030-02-01T00:00:00Z,P2,0,0,0,0,");

    // Admins only.
    for p in [path, "/api/admin/reports/licensing/licenses", "/api/admin/reports/licensing/renewals"] {
        assert_eq!(s.get(p, &Caller::org_admin(org_a)).await.status(), 403, "{p}");
    }
    s.stop().await;
}
