use chrono::Utc;
use marketplace::Config;
use platform::auth::Role;
use platform::clock::ManualClock;
use platform::config::Secret;
use runtime::RunningService;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stripe_fake::{FakeConfig, RunningFake, StripeFake};
use testkit::TestEnv;
use uuid::Uuid;

pub const WEBHOOK_SECRET: &str = "whsec_test_marketplace";
/// A zip's local-file-header signature, then filler.
pub const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00course-package-bytes";

/// billing and stripe-fake, in-process, on the marketplace test's exchange.
pub struct Billing {
    pub fake: RunningFake,
    pub svc: RunningService,
}

/// marketplace (and billing when asked for) on a fresh schema, exchange and content directory.
pub struct Market {
    pub env: TestEnv,
    pub svc: RunningService,
    pub billing: Option<Billing>,
    /// rewards, when vouchers are tested: marketplace reserves them there.
    pub rewards: Option<RunningService>,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub content_dir: PathBuf,
}

pub struct Options {
    pub billing: bool,
    pub rewards: bool,
    pub tweak: Box<dyn FnOnce(&mut Config)>,
}

impl Market {
    pub async fn start() -> Self {
        Self::start_with(Options { billing: false, rewards: false, tweak: Box::new(|_| {}) }).await
    }

    pub async fn with_billing() -> Self {
        Self::start_with(Options { billing: true, rewards: false, tweak: Box::new(|_| {}) }).await
    }

    /// With billing and rewards: purchases with vouchers.
    pub async fn with_rewards() -> Self {
        Self::start_with(Options { billing: true, rewards: true, tweak: Box::new(|_| {}) }).await
    }

    pub async fn start_with(opts: Options) -> Self {
        let env = TestEnv::new();
        let billing = if opts.billing { Some(start_billing(&env).await) } else { None };
        let rewards = if opts.rewards {
            Some(
                testkit::service::start(&env, &rewards::SPEC, |ctx| rewards::setup(ctx, rewards::Config::default()))
                    .await,
            )
        } else {
            None
        };
        let content_dir = std::env::temp_dir().join(format!("marketplace-it-{}", env.id));
        let mut config = Config::with_billing_url(
            &billing.as_ref().map(|b| b.svc.url()).unwrap_or_else(|| "http://127.0.0.1:9".into()),
        );
        config.content_dir = content_dir.to_string_lossy().into_owned();
        config.billing_timeout_ms = 5_000;
        if let Some(r) = &rewards {
            config.rewards_url = r.url();
        }
        config.scheduler_interval_ms = 50;
        // Searches must see a course the moment it is published; `catalog` tests turn it on.
        config.catalog_cache_ms = 0;
        (opts.tweak)(&mut config);
        let clock = ManualClock::new(Utc::now());
        let shared: platform::clock::SharedClock = Arc::new(clock.clone());
        let svc =
            testkit::service::start(&env, &marketplace::SPEC, |ctx| marketplace::setup_with(ctx, config, shared)).await;
        Self { env, svc, billing, rewards, http: testkit::http(), clock, content_dir }
    }

    /// A second replica on the same schema, queue, content directory and clock.
    pub async fn start_replica(&self, tweak: impl FnOnce(&mut Config)) -> RunningService {
        let mut config = Config::with_billing_url(
            &self.billing.as_ref().map(|b| b.svc.url()).unwrap_or_else(|| "http://127.0.0.1:9".into()),
        );
        config.content_dir = self.content_dir.to_string_lossy().into_owned();
        if let Some(r) = &self.rewards {
            config.rewards_url = r.url();
        }
        config.scheduler_interval_ms = 50;
        config.catalog_cache_ms = 0;
        tweak(&mut config);
        let shared: platform::clock::SharedClock = Arc::new(self.clock.clone());
        runtime::start(&marketplace::SPEC, self.env.service_config("marketplace"), |ctx| {
            marketplace::setup_with(ctx, config, shared)
        })
        .await
        .expect("a second marketplace replica starts")
    }

    pub async fn stop(self) {
        self.svc.stop().await;
        if let Some(b) = self.billing {
            b.svc.stop().await;
            b.fake.stop().await;
        }
        if let Some(r) = self.rewards {
            r.stop().await;
        }
        self.env.cleanup(&["marketplace", "billing", "rewards"]).await;
        let _ = std::fs::remove_dir_all(&self.content_dir);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.svc.url())
    }

    pub fn token(user: Uuid, roles: &[Role]) -> String {
        testkit::internal_token("marketplace", &user.to_string(), roles)
    }

    pub async fn get(&self, caller: Option<(Uuid, &[Role])>, path: &str) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some((user, roles)) = caller {
            req = req.header("x-internal-token", Self::token(user, roles));
        }
        req.send().await.unwrap()
    }

    pub async fn get_json(&self, caller: Option<(Uuid, &[Role])>, path: &str) -> Value {
        let res = self.get(caller, path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        user: Uuid,
        roles: &[Role],
        path: &str,
        body: Value,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut req =
            self.http.request(method, self.url(path)).header("x-internal-token", Self::token(user, roles)).json(&body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, user: Uuid, roles: &[Role], path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, user, roles, path, body, None).await
    }

    /// Upload as multipart, built by hand (no reqwest `multipart` feature needed).
    pub async fn upload(
        &self,
        instructor: Uuid,
        metadata: &Value,
        file: &[u8],
        content_type: &str,
    ) -> reqwest::Response {
        let boundary = "----marketplace-test-boundary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{metadata}\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"course.zip\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.http
            .post(self.url("/api/courses/upload"))
            .header("x-internal-token", Self::token(instructor, &[Role::Instructor]))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Upload (and publish) a course; `fields` override the default metadata.
    pub async fn course(&self, instructor: Uuid, fields: Value, publish: bool) -> Value {
        let mut meta = metadata("Rust for payments", "9.99");
        for (k, v) in fields.as_object().unwrap() {
            meta[k] = v.clone();
        }
        let res = self.upload(instructor, &meta, ZIP, "application/zip").await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let course: Value = res.json().await.unwrap();
        if !publish {
            return course;
        }
        let id = course["id"].as_str().unwrap();
        let res = self.post(instructor, &[Role::Instructor], &format!("/api/courses/{id}/publish"), json!({})).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn buy(&self, buyer: Uuid, course_id: &str, key: &str) -> reqwest::Response {
        self.send(
            reqwest::Method::POST,
            buyer,
            &[Role::Learner],
            "/api/courses/purchase",
            json!({ "course_id": course_id }),
            Some(key),
        )
        .await
    }

    /// The ids of the courses `buyer` has access to.
    pub async fn owned(&self, buyer: Uuid) -> Vec<String> {
        let mine = self.get_json(Some((buyer, &[Role::Learner])), "/api/courses/mine").await;
        mine["data"].as_array().unwrap().iter().map(|o| o["course"]["id"].as_str().unwrap().to_string()).collect()
    }

    pub async fn wait_owned(&self, buyer: Uuid, course: &str) {
        testkit::eventually("access to the course", Duration::from_secs(20), || async {
            self.owned(buyer).await.contains(&course.to_string()).then_some(())
        })
        .await;
    }

    /// Confirm the purchase's PaymentIntent as the client app would, with a Stripe test method.
    pub fn confirm(&self, purchase: &Value, method: &str) {
        let secret = purchase["client_secret"].as_str().expect("client_secret");
        let intent = secret.split("_secret_").next().unwrap();
        let fake = &self.billing.as_ref().expect("billing running").fake;
        let _ = fake.confirm_payment_intent(intent, method);
    }

    pub async fn earnings(&self, instructor: Uuid) -> Value {
        self.get_json(Some((instructor, &[Role::Instructor])), "/api/instructors/me/earnings").await
    }

    /// Files in the content directory, staging included.
    pub fn stored_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in [self.content_dir.clone(), self.content_dir.join(".staging")] {
            if let Ok(entries) = std::fs::read_dir(dir) {
                out.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
            }
        }
        out
    }

    pub async fn course_rows(&self) -> i64 {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.svc.pool.get().await.unwrap();
        let row: N = diesel::sql_query("SELECT count(*) AS n FROM courses").get_result(&mut conn).await.unwrap();
        row.n
    }
}

/// Default metadata for an upload.
pub fn metadata(title: &str, price: &str) -> Value {
    json!({
        "title": title,
        "description": "A practical course.",
        "category": "programming",
        "level": "beginner",
        "language": "en",
        "tags": ["course"],
        "price": {"amount": price, "currency": "USD"},
    })
}

async fn start_billing(env: &TestEnv) -> Billing {
    let fake = StripeFake::start(FakeConfig {
        webhook_secret: WEBHOOK_SECRET.into(),
        api_keys: vec![stripe_fake::DEV_API_KEY.into()],
        ..FakeConfig::for_tests()
    })
    .await
    .unwrap();
    let config = billing::Config {
        stripe_timeout_ms: 2_000,
        void_poll_ms: 100,
        void_retry_base_ms: 1_000,
        // Only the reconciliation tests let it act: everywhere else a lost webhook is the test's point.
        reconcile_after_seconds: 3_600,
        reconcile_interval_ms: 200,
        ..billing::Config::new(fake.base_url(), Secret::new(stripe_fake::DEV_API_KEY), Secret::new(WEBHOOK_SECRET))
    };
    let svc = testkit::service::start(env, &billing::SPEC, |ctx| billing::setup(ctx, config)).await;
    fake.set_webhook_url(Some(&format!("{}/api/payments/webhook", svc.url())));
    Billing { fake, svc }
}
