//! Issue 14, item 13 (billing): no transaction or pooled connection is held while Stripe is asked.
//! Billing runs with a pool of ONE connection against a Stripe that answers slowly: a refund and a
//! webhook in flight must not keep a concurrent read waiting.

use crate::refund_policy::paid;
use crate::support::{billing_config, Stack, WEBHOOK_SECRET};
use platform::auth::Role;
use serde_json::json;
use std::time::{Duration, Instant};
use stripe_fake::{FakeConfig, StripeFake};
use testkit::bus::Capture;
use testkit::TestEnv;
use uuid::Uuid;

const SLOW_STRIPE: Duration = Duration::from_secs(3);
const PROMPT: Duration = Duration::from_millis(1500);

async fn start_with_one_connection() -> Stack {
    let env = TestEnv::new();
    let mut fake_config = FakeConfig {
        webhook_secret: WEBHOOK_SECRET.into(),
        api_keys: vec![stripe_fake::DEV_API_KEY.into()],
        ..FakeConfig::for_tests()
    };
    // Billing answers a webhook only after its (slow) calls to Stripe.
    fake_config.webhook_retry.timeout = Duration::from_secs(15);
    let fake = StripeFake::start(fake_config).await.unwrap();
    let mut config = billing_config(fake.base_url());
    config.stripe_timeout_ms = 10_000;
    let events = Capture::bind(&env, &["billing.#"]).await;
    let mut service = env.service_config(billing::SPEC.name);
    service.database_pool_size = 1;
    runtime::migrate(&billing::SPEC, &service).await.expect("migrations");
    let svc = runtime::start(&billing::SPEC, service, |ctx| billing::setup(ctx, config)).await.expect("billing starts");
    fake.set_webhook_url(Some(&format!("{}/api/payments/webhook", svc.url())));
    Stack { env, fake, svc, http: testkit::http(), events }
}

/// How long the buyer's history takes to answer.
async fn history_latency(s: &Stack, user: Uuid) -> Duration {
    let started = Instant::now();
    let res = s.get_as(user, &[Role::Learner], "/api/payments/history").await;
    assert_eq!(res.status(), 200);
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stripe_does_not_hold_the_only_connection() {
    let mut s = start_with_one_connection().await;
    let buyer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let id = paid(&s, buyer, "10.00").await;
    s.events.expect("billing.payment.succeeded.v1", Duration::from_secs(10)).await;

    // A refund waiting on Stripe.
    s.fake.delay_next(1, SLOW_STRIPE);
    let refund = s.refund(admin, &[Role::Admin], &id, json!({"amount": "4.00", "reason": "duplicate"}), "slow-refund");
    let probe = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        history_latency(&s, buyer).await
    };
    let (refund, waited) = tokio::join!(refund, probe);
    assert_eq!(refund.status(), 201);
    assert!(waited < PROMPT, "a read waited {waited:?} behind a refund's Stripe call");
    s.events.expect("billing.payment.refunded.v1", Duration::from_secs(15)).await;

    // A webhook waiting on Stripe (its re-fetch of the intent and charge).
    let other = s.new_payment(buyer, "7.00").await;
    s.fake.hold_events();
    s.confirm(&other, "pm_card_visa");
    s.fake.delay_next(2, SLOW_STRIPE);
    let deliver = s.fake.release_events(&[]);
    let probe = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        history_latency(&s, buyer).await
    };
    let (_, waited) = tokio::join!(deliver, probe);
    assert!(waited < PROMPT, "a read waited {waited:?} behind a webhook's Stripe call");
    s.wait_status(buyer, other["id"].as_str().unwrap(), "succeeded").await;
    s.stop().await;
}
