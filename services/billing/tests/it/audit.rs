//! billing's audited actions: refunds and admins reading another user's history, each an entry
//! in the audit log written with the action; a refused refund writes none. Plus the retention of
//! processed Stripe events.

use crate::support::Stack;
use diesel_async::RunQueryDsl;
use platform::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

async fn paid(s: &Stack, buyer: Uuid, amount: &str) -> String {
    let payment = s.new_payment(buyer, amount).await;
    let id = payment["id"].as_str().unwrap().to_string();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(buyer, &id, "succeeded").await;
    id
}

async fn audit(s: &Stack, query: &str) -> Value {
    let admin = Uuid::now_v7();
    let res = s.get_as(admin, &[Role::Admin], &format!("/api/admin/audit/billing{query}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn verify(s: &Stack) -> platform::audit::Verification {
    let mut conn = s.svc.pool.get().await.unwrap();
    platform::audit::verify(&mut conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_is_audited_with_its_actor_and_a_refused_one_is_not() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let id = paid(&s, buyer, "20.00").await;
    let res = s
        .http
        .post(s.url(&format!("/api/payments/{id}/refunds")))
        .header("x-internal-token", testkit::internal_token("billing", &admin.to_string(), &[Role::Admin]))
        .header("idempotency-key", "audit-1")
        .header("x-forwarded-for", "198.51.100.23")
        .header("x-request-id", "req-audit-1")
        .json(&json!({"amount": "5.00", "reason": "goodwill"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let refused = s.refund(admin, &[Role::Admin], &id, json!({"amount": "50.00"}), "audit-2").await;
    assert_eq!(refused.status(), 422);

    let page = audit(&s, &format!("?target=payment:{id}")).await;
    let entries = page["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only the refund that happened: {page}");
    let e = &entries[0];
    assert_eq!(e["action"], "payment.refund");
    assert_eq!(e["actor_sub"], admin.to_string());
    assert_eq!(e["actor_roles"], json!(["admin"]));
    assert_eq!(e["client_addr"], "198.51.100.23");
    assert_eq!(e["request_id"], "req-audit-1");
    assert_eq!(e["changes"]["amount"].as_str().map(|a| a.parse::<rust_decimal::Decimal>().unwrap()), Some(5.into()));
    assert_eq!(e["changes"]["reason"], "goodwill");
    let report = verify(&s).await;
    assert_eq!(report.broken, None, "{report}");

    // Only admins read the log.
    let res = s.get_as(buyer, &[Role::Learner], "/api/admin/audit/billing").await;
    assert_eq!(res.status(), 403);
    let res = s.get_as(admin, &[Role::Admin], "/api/admin/audit/billing?colour=red").await;
    assert_eq!(res.status(), 422, "unknown filters are refused");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reading_another_users_history_is_audited() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let own = s.get_as(buyer, &[Role::Learner], "/api/payments/history").await;
    assert_eq!(own.status(), 200);
    assert_eq!(audit(&s, "").await["data"], json!([]), "reading one's own data is not audited");
    let res = s.get_as(admin, &[Role::Admin], &format!("/api/payments/history?user_id={buyer}")).await;
    assert_eq!(res.status(), 200);
    let page = audit(&s, "?action=admin.read").await;
    let e = &page["data"][0];
    assert_eq!(
        (e["target"].as_str(), e["actor_sub"].as_str()),
        (Some(&*format!("user:{buyer}")), Some(&*admin.to_string()))
    );
    assert_eq!(e["changes"]["resource"], "billing_history");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processed_stripe_events_are_pruned_after_the_retention_age() {
    let s = Stack::start().await;
    {
        let mut conn = s.svc.pool.get().await.unwrap();
        diesel::sql_query(
            "INSERT INTO stripe_events (id, type, received_at) VALUES \
             ('evt_old_1', 'charge.refunded', now() - interval '31 days'), \
             ('evt_old_2', 'payment_intent.succeeded', now() - interval '40 days'), \
             ('evt_recent', 'payment_intent.succeeded', now() - interval '29 days')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let report = s.svc.retention.run_once().await;
    assert!(report.contains(&("stripe_events", 2)), "{report:?}");
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = s.svc.pool.get().await.unwrap();
    let left: Vec<Id> =
        diesel::sql_query("SELECT id FROM stripe_events WHERE id IN ('evt_old_1', 'evt_old_2', 'evt_recent')")
            .load(&mut conn)
            .await
            .unwrap();
    assert_eq!(left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["evt_recent"]);
    drop(conn);
    s.stop().await;
}
