//! Contract V: a payment marketplace or subscriptions will never use is given back. An open
//! PaymentIntent is canceled at Stripe; a captured one is refunded in full, once, whatever the
//! duplicates, replicas and races; a payment that succeeds after its void is refunded too.

use crate::support::{billing_config, Stack};
use billing::store::voids::{self, Void};
use events::catalog::billing::PaymentPurpose;
use events::CloudEvent;
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

const MARKETPLACE: &str = "marketplace.payment.void_requested.v1";
const SUBSCRIPTIONS: &str = "subscriptions.payment.void_requested.v1";

/// The request as a producer writes it (contract V), with a fresh event id.
fn void_request(event_type: &str, payment: &Value, reason: &str) -> CloudEvent {
    let producer = event_type.split('.').next().unwrap();
    let name = event_type.strip_prefix(producer).unwrap().trim_start_matches('.');
    CloudEvent {
        specversion: "1.0".into(),
        id: Uuid::now_v7(),
        source: format!("/services/{producer}"),
        event_type: event_type.into(),
        time: chrono::Utc::now(),
        subject: payment["id"].as_str().unwrap().into(),
        datacontenttype: "application/json".into(),
        dataschema: format!("events/{producer}/{name}.json"),
        traceparent: None,
        tracestate: None,
        data: json!({
            "payment_id": payment["id"],
            "user_id": payment["user_id"],
            "reference_id": payment["reference_id"],
            "reason": reason,
            "requested_at": chrono::Utc::now(),
        }),
    }
}

async fn void_of(s: &Stack, payment_id: &str) -> Option<Void> {
    let mut conn = s.svc.pool.get().await.unwrap();
    voids::find(&mut conn, payment_id.parse().unwrap()).await.unwrap()
}

async fn wait_void(s: &Stack, payment_id: &str, state: &str) -> Void {
    testkit::eventually(&format!("void of {payment_id} to be {state}"), Duration::from_secs(15), || async {
        void_of(s, payment_id).await.filter(|v| v.state == state)
    })
    .await
}

fn intent(s: &Stack, id: &str) -> Value {
    s.fake.payment_intents().into_iter().find(|pi| pi["id"] == id).expect("intent at stripe-fake")
}

fn refunds_of(s: &Stack, intent_id: &str) -> Vec<Value> {
    s.fake.refunds().into_iter().filter(|r| r["payment_intent"] == intent_id).collect()
}

async fn paid(s: &Stack, buyer: Uuid, amount: &str) -> Value {
    paid_for(s, buyer, amount, PaymentPurpose::CoursePurchase).await
}

async fn paid_for(s: &Stack, buyer: Uuid, amount: &str, purpose: PaymentPurpose) -> Value {
    let res = s.create_payment_for(buyer, amount, &Uuid::new_v4().to_string(), purpose, false).await;
    assert_eq!(res.status(), 201);
    let payment: Value = res.json().await.unwrap();
    s.confirm(&payment, "pm_card_visa");
    s.wait_status(buyer, payment["id"].as_str().unwrap(), "succeeded").await;
    payment
}

async fn history_kinds(s: &Stack, buyer: Uuid) -> Vec<(String, String)> {
    let history: Value = s.get_as(buyer, &[Role::Learner], "/api/payments/history").await.json().await.unwrap();
    history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap().to_string(), l["amount"]["amount"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_payment_is_canceled_at_stripe_and_can_no_longer_be_paid() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "20.00").await;
    let id = payment["id"].as_str().unwrap();
    let pi = s.intent_of(&payment);

    testkit::bus::publish_raw(&s.env, &void_request(MARKETPLACE, &payment, "purchase_expired")).await;

    let void = wait_void(&s, id, "canceled").await;
    assert_eq!(void.reason, "purchase_expired");
    assert_eq!(void.source_event_type, MARKETPLACE);
    assert_eq!(intent(&s, &pi)["status"], "canceled");
    assert_eq!(intent(&s, &pi)["cancellation_reason"], "abandoned");
    s.wait_status(buyer, id, "canceled").await;
    // The customer's late confirmation is refused by Stripe: no money can move any more.
    assert!(s.fake.confirm_payment_intent(&pi, "pm_card_visa").is_err());
    assert_eq!(intent(&s, &pi)["status"], "canceled");
    assert!(s.fake.refunds().is_empty());
    assert!(history_kinds(&s, buyer).await.is_empty(), "nothing was charged");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_payment_is_refunded_once_despite_duplicates_and_a_second_replica() {
    let mut s = Stack::start().await;
    // A second billing on the same schema and queue: competing consumer and competing worker.
    let config = billing_config(s.fake.base_url());
    let second = testkit::service::start(&s.env, &billing::SPEC, |ctx| billing::setup(ctx, config)).await;
    let buyer = Uuid::now_v7();
    let payment = paid_for(&s, buyer, "9.99", PaymentPurpose::Subscription).await;
    let id = payment["id"].as_str().unwrap();
    let pi = s.intent_of(&payment);
    s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;

    // The same event delivered twice, and a second request for the same payment.
    let request = void_request(SUBSCRIPTIONS, &payment, "subscription_canceled");
    testkit::bus::publish_raw(&s.env, &request).await;
    // The redelivery carries a field billing does not know (a newer producer's additive change,
    // off today's contract on purpose): consumers read leniently, and it is still one event.
    let mut redelivered = request.clone();
    redelivered.data["something_new"] = json!({"nested": true});
    testkit::bus::publish_off_contract(&s.env, &redelivered).await;
    testkit::bus::publish_raw(&s.env, &void_request(SUBSCRIPTIONS, &payment, "subscription_expired")).await;

    let void = wait_void(&s, id, "done").await;
    assert_eq!(void.reason, "subscription_canceled", "the first request stands");
    let refunded = s.events.expect("billing.payment.refunded.v1", Duration::from_secs(10)).await;
    assert_eq!(refunded.data["payment_id"], id);
    assert_eq!(refunded.data["total_refunded"]["amount"], "9.99");
    assert_eq!(refunded.data["fully_refunded"], true);

    // Give any second worker pass or replica time to misbehave, then count.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let at_stripe = refunds_of(&s, &pi);
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    assert_eq!(at_stripe[0]["amount"], 999);
    assert_eq!(at_stripe[0]["metadata"]["reason"], "unfulfillable");
    assert_eq!(at_stripe[0]["metadata"]["initiated_by"], "system");

    let receipt: Value =
        s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await.json().await.unwrap();
    let rows = receipt["refunds"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{receipt}");
    let history = history_kinds(&s, buyer).await;
    assert_eq!(history, vec![("refund".into(), "9.99".into()), ("charge".into(), "9.99".into())], "newest first");
    let p = s.payment(buyer, id).await;
    assert_eq!(p["amount_refunded"]["amount"], "9.99");
    assert!(s
        .events
        .drain(Duration::from_millis(500))
        .await
        .iter()
        .all(|e| e.event_type != "billing.payment.refunded.v1"));
    second.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_passes_that_race_on_one_void_refund_it_once() {
    // No background worker of its own: the passes below are the only ones.
    let s = Stack::start_with(|c| c.void_poll_ms = 3_600_000).await;
    let buyer = Uuid::now_v7();
    let payment = paid(&s, buyer, "12.00").await;
    let id = payment["id"].as_str().unwrap();
    let pi = s.intent_of(&payment);
    testkit::bus::publish_raw(&s.env, &void_request(MARKETPLACE, &payment, "already_owned")).await;
    testkit::eventually("the void recorded", Duration::from_secs(10), || async { void_of(&s, id).await }).await;
    // The consumer's wake-up may start one pass; let it finish so the void is due again below.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if void_of(&s, id).await.unwrap().state == "done" {
        // The woken pass won; force a redo of the whole attempt, as after a lease that ran out.
        let mut conn = s.svc.pool.get().await.unwrap();
        diesel_async::RunQueryDsl::execute(
            diesel::sql_query("UPDATE payment_voids SET state = 'pending', next_attempt_at = now()"),
            &mut conn,
        )
        .await
        .unwrap();
    }

    // Leases of zero: every pass claims the same void, as replicas would after leases ran out.
    let state = billing::State {
        pool: s.svc.pool.clone(),
        stripe: stripe::Client::new(s.fake.client_config()).unwrap(),
        webhooks: stripe::WebhookVerifier::new([crate::support::WEBHOOK_SECRET.to_string()]),
        config: billing_config(s.fake.base_url()),
        metrics: billing::metrics::BillingMetrics::new(&platform::metrics::Metrics::new(), &s.svc.pool, Duration::ZERO),
        clock: std::sync::Arc::new(platform::clock::SystemClock),
    };
    let timing = billing::voids::Timing {
        poll: Duration::from_millis(10),
        retry_base: Duration::from_millis(10),
        lease: Duration::ZERO,
    };
    let passes = (0..6).map(|_| billing::voids::tick(&state, &timing));
    for result in futures_util::future::join_all(passes).await {
        result.unwrap();
    }
    wait_void(&s, id, "done").await;
    assert_eq!(refunds_of(&s, &pi).len(), 1);
    let receipt: Value =
        s.get_as(buyer, &[Role::Learner], &format!("/api/payments/{id}/receipt")).await.json().await.unwrap();
    assert_eq!(receipt["refunds"].as_array().unwrap().len(), 1, "{receipt}");
    let history = history_kinds(&s, buyer).await;
    assert_eq!(history.iter().filter(|(k, _)| k == "refund").count(), 1, "{history:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_that_succeeds_after_its_void_is_refunded() {
    // After a Stripe error the void waits an hour: only the success path can bring it back sooner.
    let mut s = Stack::start_with(|c| c.void_retry_base_ms = 3_600_000).await;
    let buyer = Uuid::now_v7();
    let payment = s.new_payment(buyer, "15.00").await;
    let id = payment["id"].as_str().unwrap();
    let pi = s.intent_of(&payment);

    // Stripe is down for the worker's first look (the client's own retries included).
    s.fake.fail_next(3, 500);
    testkit::bus::publish_raw(&s.env, &void_request(MARKETPLACE, &payment, "purchase_superseded")).await;
    let void = testkit::eventually("the void to wait after a Stripe error", Duration::from_secs(15), || async {
        void_of(&s, id).await.filter(|v| v.last_error.is_some())
    })
    .await;
    assert_eq!(void.state, "pending");
    assert!(void.next_attempt_at > chrono::Utc::now() + chrono::Duration::minutes(30));

    // Meanwhile the customer pays: the intent was never canceled.
    s.fake.confirm_payment_intent(&pi, "pm_card_visa").unwrap();
    s.wait_status(buyer, id, "succeeded").await;

    wait_void(&s, id, "done").await;
    let at_stripe = refunds_of(&s, &pi);
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    assert_eq!(at_stripe[0]["amount"], 1500);
    let refunded = s.events.expect("billing.payment.refunded.v1", Duration::from_secs(10)).await;
    assert_eq!(refunded.data["fully_refunded"], true);
    let history = history_kinds(&s, buyer).await;
    assert_eq!(history, vec![("refund".into(), "15.00".into()), ("charge".into(), "15.00".into())]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_unknown_or_foreign_payments_are_recorded_and_change_nothing() {
    let s = Stack::start().await;
    let buyer = Uuid::now_v7();
    // A course payment that subscriptions has no say over.
    let payment = paid(&s, buyer, "5.00").await;
    let id = payment["id"].as_str().unwrap();
    testkit::bus::publish_raw(&s.env, &void_request(SUBSCRIPTIONS, &payment, "subscription_canceled")).await;
    let refused = wait_void(&s, id, "failed").await;
    assert!(refused.last_error.unwrap().contains("may not void"));

    // A payment billing never created: acknowledged (no retry, no dead letter), kept for a person.
    let ghost = json!({"id": Uuid::now_v7(), "user_id": buyer, "reference_id": "nothing"});
    testkit::bus::publish_raw(&s.env, &void_request(MARKETPLACE, &ghost, "purchase_expired")).await;
    let unknown = wait_void(&s, ghost["id"].as_str().unwrap(), "failed").await;
    assert!(unknown.last_error.unwrap().contains("unknown payment"));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.fake.refunds().is_empty());
    assert_eq!(s.payment(buyer, id).await["status"], "succeeded");
    let dlq = s.env.topology().dead_letter_queue("billing");
    assert_eq!(testkit::bus::queue_depth(&dlq).await.unwrap_or(0), 0);
    s.stop().await;
}
