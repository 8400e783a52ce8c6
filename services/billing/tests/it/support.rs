use billing::Config;
use events::catalog::billing::PaymentPurpose;
use platform::auth::Role;
use platform::clock::{ManualClock, SharedClock, SystemClock};
use platform::config::Secret;
use runtime::RunningService;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use stripe_fake::{FakeConfig, RunningFake, StripeFake};
use testkit::bus::Capture;
use testkit::TestEnv;
use uuid::Uuid;

pub const WEBHOOK_SECRET: &str = "whsec_test_current";

pub fn billing_config(stripe_base: &str) -> Config {
    Config {
        stripe_api_base: stripe_base.into(),
        stripe_api_key: Secret::new(stripe_fake::DEV_API_KEY),
        stripe_webhook_secrets: Secret::new(WEBHOOK_SECRET),
        stripe_timeout_ms: 1_000,
        void_poll_ms: 100,
        void_retry_base_ms: 1_000,
        // Only the reconciliation tests let it act: everywhere else a lost webhook is the test's point.
        reconcile_after_seconds: 3_600,
        reconcile_interval_ms: 200,
        merchant_name: "Learning Platform Inc.".into(),
        merchant_address: "1 Example Street, Springfield".into(),
        refund_window_days: 14,
        retention_stripe_events_hours: 30 * 24,
        seller_country: "IE".into(),
        seller_vat_id: Some("IE6388047V".into()),
    }
}

/// billing + stripe-fake wired together (webhooks to billing), and a capture of billing's events.
pub struct Stack {
    pub env: TestEnv,
    pub fake: RunningFake,
    pub svc: RunningService,
    pub http: reqwest::Client,
    pub events: Capture,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_inner(tweak, Arc::new(SystemClock)).await
    }

    /// Billing dating its outcomes by `clock`, which the test moves.
    pub async fn start_at(clock: &ManualClock) -> Self {
        Self::start_inner(|_| {}, Arc::new(clock.clone())).await
    }

    async fn start_inner(tweak: impl FnOnce(&mut Config), clock: SharedClock) -> Self {
        let env = TestEnv::new();
        let fake = StripeFake::start(FakeConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            api_keys: vec![stripe_fake::DEV_API_KEY.into()],
            ..FakeConfig::for_tests()
        })
        .await
        .unwrap();
        let mut config = billing_config(fake.base_url());
        tweak(&mut config);
        let events = Capture::bind(&env, &["billing.#"]).await;
        let svc =
            testkit::service::start(&env, &billing::SPEC, |ctx| billing::setup_with_clock(ctx, config, clock)).await;
        fake.set_webhook_url(Some(&format!("{}/api/payments/webhook", svc.url())));
        Self { env, fake, svc, http: testkit::http(), events }
    }

    pub async fn stop(self) {
        self.svc.stop().await;
        self.fake.stop().await;
        self.env.cleanup(&["billing"]).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.svc.url())
    }

    /// The internal create call as marketplace would make it.
    pub async fn create_payment(&self, user: Uuid, amount: &str, key: &str) -> reqwest::Response {
        self.create_payment_for(user, amount, key, PaymentPurpose::CoursePurchase, false).await
    }

    pub async fn create_payment_for(
        &self,
        user: Uuid,
        amount: &str,
        key: &str,
        purpose: PaymentPurpose,
        off_session: bool,
    ) -> reqwest::Response {
        self.http
            .post(self.url("/internal/payments"))
            .header("x-internal-token", testkit::service_token("marketplace", "billing"))
            .header("idempotency-key", key)
            .json(&json!({
                "user_id": user,
                "amount": {"amount": amount, "currency": "USD"},
                "purpose": purpose,
                "reference_id": format!("purchase-{key}"),
                "description": "Course: Rust for payments",
                "off_session": off_session,
            }))
            .send()
            .await
            .unwrap()
    }

    /// Create a payment and return its JSON (asserting 201).
    pub async fn new_payment(&self, user: Uuid, amount: &str) -> Value {
        let res = self.create_payment(user, amount, &Uuid::new_v4().to_string()).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        res.json().await.unwrap()
    }

    pub fn intent_of(&self, payment: &Value) -> String {
        let secret = payment["client_secret"].as_str().unwrap();
        secret.split("_secret_").next().unwrap().to_string()
    }

    /// Confirm as the client app would, with a Stripe test payment method.
    pub fn confirm(&self, payment: &Value, method: &str) {
        let _ = self.fake.confirm_payment_intent(&self.intent_of(payment), method);
    }

    pub async fn get_as(&self, user: Uuid, roles: &[Role], path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("x-internal-token", testkit::internal_token("billing", &user.to_string(), roles))
            .send()
            .await
            .unwrap()
    }

    pub async fn payment(&self, user: Uuid, id: &str) -> Value {
        self.get_as(user, &[Role::Learner], &format!("/api/payments/{id}")).await.json().await.unwrap()
    }

    /// Wait until the payment reaches `status`.
    pub async fn wait_status(&self, user: Uuid, id: &str, status: &str) -> Value {
        testkit::eventually(&format!("payment {id} to be {status}"), Duration::from_secs(15), || async {
            let p = self.payment(user, id).await;
            (p["status"] == status).then_some(p)
        })
        .await
    }

    pub async fn refund(&self, caller: Uuid, roles: &[Role], id: &str, body: Value, key: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/payments/{id}/refunds")))
            .header("x-internal-token", testkit::internal_token("billing", &caller.to_string(), roles))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}
