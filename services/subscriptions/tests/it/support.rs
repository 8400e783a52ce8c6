use chrono::Utc;
use events::CloudEvent;
use platform::auth::Role;
use platform::clock::ManualClock;
use platform::config::Secret;
use runtime::RunningService;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use stripe_fake::{FakeConfig, RunningFake, StripeFake};
use testkit::bus::Capture;
use testkit::TestEnv;
use uuid::Uuid;

pub fn config(billing_url: &str) -> subscriptions::Config {
    subscriptions::Config {
        billing_url: billing_url.into(),
        dunning_retry_days: "1,3,5".into(),
        first_payment_timeout_hours: 23,
        scheduler_interval_ms: 100,
        feature_cache_ttl_secs: 300,
        test_clocks: true,
    }
}

/// stripe-fake, billing and subscriptions wired together, with a clock the test moves.
pub struct Stack {
    pub env: TestEnv,
    pub fake: RunningFake,
    pub billing: RunningService,
    pub svc: RunningService,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub events: Capture,
}

/// How a [`Stack`] is set up.
pub struct Options {
    /// Subscriptions' database pool.
    pub pool_size: u32,
    /// Billing's patience with Stripe (tests that make Stripe slow raise it).
    pub stripe_timeout_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { pool_size: 8, stripe_timeout_ms: 2_000 }
    }
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let env = TestEnv::new();
        let fake = StripeFake::start(FakeConfig { webhook_secret: "whsec_subs".into(), ..FakeConfig::for_tests() })
            .await
            .unwrap();
        let billing_config = billing::Config {
            stripe_api_base: fake.base_url().into(),
            stripe_api_key: Secret::new(fake.api_key()),
            stripe_webhook_secrets: Secret::new("whsec_subs"),
            stripe_timeout_ms: options.stripe_timeout_ms,
            void_poll_ms: 100,
            void_retry_base_ms: 1_000,
            // Only the reconciliation tests let it act: everywhere else a lost webhook is the test's point.
            reconcile_after_seconds: 3_600,
            reconcile_interval_ms: 200,
            merchant_name: "Learning Platform Inc.".into(),
            merchant_address: "1 Example Street".into(),
            refund_window_days: 14,
            retention_stripe_events_hours: 30 * 24,
            seller_country: "IE".into(),
            seller_vat_id: Some("IE6388047V".into()),
        };
        let billing = testkit::service::start(&env, &billing::SPEC, |ctx| billing::setup(ctx, billing_config)).await;
        fake.set_webhook_url(Some(&format!("{}/api/payments/webhook", billing.url())));
        let events = Capture::bind(&env, &["subscriptions.#"]).await;
        let clock = ManualClock::new(Utc::now());
        let c = clock.clone();
        let mut svc_config = env.service_config("subscriptions");
        svc_config.database_pool_size = options.pool_size;
        runtime::migrate(&subscriptions::SPEC, &svc_config).await.expect("migrations");
        let billing_url = billing.url();
        let svc = runtime::start(&subscriptions::SPEC, svc_config, |ctx| {
            subscriptions::setup_with_clock(ctx, config(&billing_url), Arc::new(c))
        })
        .await
        .expect("subscriptions starts");
        let queue = env.topology().queue("subscriptions");
        testkit::eventually("the service's queue", Duration::from_secs(15), || {
            let queue = queue.clone();
            async move { testkit::bus::queue_depth(&queue).await }
        })
        .await;
        Self { env, fake, billing, svc, clock, http: testkit::http(), events }
    }

    /// A second replica of subscriptions: the same schema, queue and clock as `svc`.
    pub async fn start_replica(&self) -> RunningService {
        let billing_url = self.billing.url();
        let clock = self.clock.clone();
        runtime::start(&subscriptions::SPEC, self.env.service_config("subscriptions"), |ctx| {
            subscriptions::setup_with_clock(ctx, config(&billing_url), Arc::new(clock))
        })
        .await
        .expect("a second subscriptions replica starts")
    }

    pub async fn stop(self) {
        self.svc.stop().await;
        self.billing.stop().await;
        self.fake.stop().await;
        self.env.cleanup(&["subscriptions", "billing"]).await;
    }

    fn token(user: Uuid) -> String {
        testkit::internal_token("subscriptions", &user.to_string(), &[Role::Learner])
    }

    pub async fn get(&self, user: Uuid, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.svc.url()))
            .header("x-internal-token", Self::token(user))
            .send()
            .await
            .unwrap()
    }

    /// `GET /api/admin/reports/subscriptions?{query}` as an admin, with `Accept: accept` if given.
    pub async fn report(&self, query: &str, accept: Option<&str>) -> reqwest::Response {
        let admin = testkit::internal_token("subscriptions", &Uuid::now_v7().to_string(), &[Role::Admin]);
        let mut req = self
            .http
            .get(format!("{}/api/admin/reports/subscriptions?{query}", self.svc.url()))
            .header("x-internal-token", admin);
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, user: Uuid, path: &str, body: Value, key: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.svc.url()))
            .header("x-internal-token", Self::token(user))
            .json(&body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }

    pub async fn me(&self, user: Uuid) -> Value {
        self.get(user, "/api/subscriptions/me").await.json().await.unwrap()
    }

    pub async fn feature(&self, user: Uuid, feature: &str) -> Value {
        self.get(user, &format!("/api/features/{feature}")).await.json().await.unwrap()
    }

    /// Subscribe to `tier` and pay the first month with `card` (completing 3DS when asked).
    pub async fn subscribe_and_pay(&self, user: Uuid, tier: &str, card: &str) -> Value {
        let res = self.post(user, "/api/subscriptions", json!({"tier": tier}), Some(&Uuid::new_v4().to_string())).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let created: Value = res.json().await.unwrap();
        let pi = created["client_secret"].as_str().unwrap().split("_secret_").next().unwrap().to_string();
        let _ = self.fake.confirm_payment_intent(&pi, card);
        if card == "pm_card_authenticationRequired" {
            self.fake.complete_authentication(&pi).unwrap();
        }
        self.wait_status(user, "active").await
    }

    pub async fn wait_status(&self, user: Uuid, status: &str) -> Value {
        testkit::eventually(&format!("subscription {status}"), Duration::from_secs(40), || async {
            let me = self.me(user).await;
            (me["subscription"]["status"] == status).then_some(me)
        })
        .await
    }

    /// Subscribe to `tier` without paying: (the answer, the PaymentIntent id).
    pub async fn subscribe_unpaid(&self, user: Uuid, tier: &str) -> (Value, String) {
        let res = self.post(user, "/api/subscriptions", json!({"tier": tier}), Some(&Uuid::new_v4().to_string())).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let created: Value = res.json().await.unwrap();
        let pi = created["client_secret"].as_str().unwrap().split("_secret_").next().unwrap().to_string();
        (created, pi)
    }

    /// Publish an event as another service would, and wait until subscriptions has applied it
    /// (its inbox row committed), so the next one is delivered after it.
    pub async fn publish_applied(&self, event_type: &str, data: Value) {
        let event = foreign_event(event_type, data);
        // Events from before `license_version` existed are off today's contract on purpose.
        if event_type.starts_with("licensing.") && event.data.get("license_version").is_none() {
            testkit::bus::publish_off_contract(&self.env, &event).await;
        } else {
            testkit::bus::publish_raw(&self.env, &event).await;
        }
        let schema = self.env.schema("subscriptions");
        testkit::eventually(&format!("{event_type} applied"), Duration::from_secs(15), || {
            let schema = schema.clone();
            async move { inbox_has(&schema, event.id).await.then_some(()) }
        })
        .await;
    }

    /// Whether subscriptions' inbox holds `event_id` (the event was applied in a transaction).
    pub async fn in_inbox(&self, event_id: Uuid) -> bool {
        inbox_has(&self.env.schema("subscriptions"), event_id).await
    }

    /// Publish an event as another service would.
    pub async fn publish(&self, event_type: &str, data: Value) {
        testkit::bus::publish_raw(&self.env, &foreign_event(event_type, data)).await;
    }

    /// Publish an event in a shape today's contract refuses (an older producer's): ONLY for tests
    /// of how subscriptions reads such events.
    pub async fn publish_off_contract(&self, event_type: &str, data: Value) {
        testkit::bus::publish_off_contract(&self.env, &foreign_event(event_type, data)).await;
    }

    /// Run `statement` on the database, `{schema}` standing for subscriptions' schema (operators
    /// set tier data, such as trials and prices, with SQL).
    pub async fn sql(&self, statement: &str) {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.unwrap();
        let schema = self.env.schema("subscriptions");
        diesel::sql_query(statement.replace("{schema}", &schema)).execute(&mut conn).await.unwrap();
    }

    /// The one numeric value `query` (`{schema}` as in [`Self::sql`], `$1` = `user`) answers, as `n`.
    pub async fn number(&self, query: &str, user: Uuid) -> rust_decimal::Decimal {
        use diesel::sql_types::{Numeric, Uuid as SqlUuid};
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Number {
            #[diesel(sql_type = Numeric)]
            n: rust_decimal::Decimal,
        }
        let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.unwrap();
        let schema = self.env.schema("subscriptions");
        let row: Number = diesel::sql_query(query.replace("{schema}", &schema))
            .bind::<SqlUuid, _>(user)
            .get_result(&mut conn)
            .await
            .unwrap();
        row.n
    }

    /// The user's MRR now, from the history the subscriptions report reads.
    pub async fn mrr_of(&self, user: Uuid) -> rust_decimal::Decimal {
        self.number(
            "SELECT coalesce(sum(mrr_after - mrr_before), 0)::numeric AS n FROM {schema}.mrr_movements WHERE user_id = $1",
            user,
        )
        .await
    }

    /// The user's invoices at billing, newest first, once there are at least `n`.
    pub async fn invoices(&self, user: Uuid, n: usize) -> Vec<Value> {
        let token = testkit::internal_token("billing", &user.to_string(), &[Role::Learner]);
        testkit::eventually(&format!("{n} invoices"), Duration::from_secs(15), || async {
            let page: Value = self
                .http
                .get(format!("{}/api/payments/invoices?limit=100", self.billing.url()))
                .header("x-internal-token", &token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let data = page["data"].as_array().cloned().unwrap_or_default();
            (data.len() >= n).then_some(data)
        })
        .await
    }

    pub async fn wait_feature(&self, user: Uuid, feature: &str, allowed: bool) -> Value {
        testkit::eventually(&format!("{feature} allowed={allowed}"), Duration::from_secs(30), || async {
            let f = self.feature(user, feature).await;
            (f["allowed"] == allowed).then_some(f)
        })
        .await
    }
}

/// An envelope as another service would publish it.
pub fn foreign_event(event_type: &str, data: Value) -> CloudEvent {
    testkit::bus::foreign_event(event_type, "x", data)
}

async fn inbox_has(schema: &str, event_id: Uuid) -> bool {
    use diesel::sql_types::{BigInt, Uuid as SqlUuid};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.expect("database");
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {schema}.inbox WHERE event_id = $1"))
        .bind::<SqlUuid, _>(event_id)
        .get_result(&mut conn)
        .await
        .expect("inbox");
    count.n > 0
}
