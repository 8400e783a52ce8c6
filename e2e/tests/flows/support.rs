//! The whole platform in one process: stripe-fake, billing, subscriptions, marketplace, rewards
//! and licensing (each in its own schema, on this test's exchange and queues, with a clock the
//! test can move where the service takes one), the gateway in front with the test JWKS, and a
//! recorder of every event published on the test's exchange. Tests talk to the gateway only,
//! with real JWTs.

use chrono::{DateTime, Timelike, Utc};
use events::CloudEvent;
use futures_util::FutureExt;
use gateway::config::GatewayConfig;
use gateway::RunningGateway;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use platform::config::{LogFormat, Secret};
use reqwest::Method;
use runtime::{Context, RunningService, ServiceSpec, Wiring};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stripe_fake::{FakeConfig, RunningFake, StripeFake};
use testkit::bus::Capture;
use testkit::TestEnv;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit};
use uuid::Uuid;

pub const SERVICES: &[&str] = &["billing", "subscriptions", "marketplace", "rewards", "licensing"];
pub const WEBHOOK_SECRET: &str = "whsec_e2e_only";
/// Per service; the pools open connections lazily, so this is a ceiling, not a cost.
const POOL_SIZE: u32 = 4;
/// How long a flow waits for state that another service produces asynchronously.
pub const WAIT: Duration = Duration::from_secs(60);

/// Every test holds this for reading; the test that stops RabbitMQ holds it for writing, so no
/// other flow runs while the broker is down.
static BROKER: RwLock<()> = RwLock::const_new(());
/// At most this many platforms at once: each is five pools per replica, and PostgreSQL (100
/// connections here) is shared. A platform with replicas takes every permit: it runs alone.
static SLOTS: Semaphore = Semaphore::const_new(3);

/// How many replicas of each domain service, and how many gateways, a platform runs:
/// `E2E_REPLICAS` (default 1). With more than one, every replica of a service shares its schema,
/// its queue (competing consumers) and its clock, each gateway knows every replica's URL, and
/// calls alternate between the gateways: what production's replicas do, on one machine.
pub fn replicas() -> usize {
    std::env::var("E2E_REPLICAS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1).clamp(1, 3)
}

enum BrokerLock {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

struct Slot {
    _lock: BrokerLock,
    _permit: SemaphorePermit<'static>,
}

impl Slot {
    async fn take(exclusive: bool, replicas: usize) -> Self {
        let lock = if exclusive {
            BrokerLock::Exclusive(BROKER.write().await)
        } else {
            BrokerLock::Shared(BROKER.read().await)
        };
        // Two-replica platforms hold twice the connections: they take more of the slots.
        let permits = if replicas > 1 { 3 } else { 1 };
        let permit = SLOTS.acquire_many(permits).await.expect("the semaphore is never closed");
        Self { _lock: lock, _permit: permit }
    }
}

/// A caller with a real JWT signed by the test key the gateway trusts.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

impl User {
    pub fn with_roles(roles: &[&str]) -> Self {
        let id = Uuid::now_v7();
        Self { id, token: testkit::jwt::user_token(&id.to_string(), roles) }
    }
    pub fn learner() -> Self {
        Self::with_roles(&["learner"])
    }
    pub fn instructor() -> Self {
        Self::with_roles(&["instructor"])
    }
    pub fn admin() -> Self {
        Self::with_roles(&["admin"])
    }
    /// An organisation's admin: the `org_id` claim names the organisation.
    pub fn org_admin(org: Uuid) -> Self {
        let id = Uuid::now_v7();
        let mut claims = testkit::jwt::claims(&id.to_string(), &["org_admin"]);
        claims["org_id"] = json!(org);
        Self { id, token: testkit::jwt::sign(jsonwebtoken::Algorithm::EdDSA, &claims) }
    }
}

/// An answer from the gateway: status and body (JSON, or the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    pub body: Value,
}

impl Res {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The wall clock moved by an offset a flow sets: billing's reconcile job and refund window keep
/// running in real time (a frozen clock would stop them), while a flow that crosses months or
/// years sets billing's "now" beside subscriptions' [`platform::clock::ManualClock`].
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<Mutex<chrono::Duration>>);

impl ShiftedClock {
    /// From now on, time runs from `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at - Utc::now();
    }
}

impl platform::clock::Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a completed course purchase left behind.
#[derive(Debug, Clone)]
pub struct Bought {
    pub purchase_id: String,
    pub payment_id: String,
    pub intent: String,
}

pub struct Platform {
    pub env: TestEnv,
    pub fake: RunningFake,
    /// The first gateway (Stripe's webhooks go through it); [`Platform::url`] alternates between
    /// it and `more_gateways`.
    pub gateway: RunningGateway,
    more_gateways: Vec<RunningGateway>,
    next_gateway: AtomicUsize,
    /// Per entry of [`SERVICES`], its running replicas.
    services: Vec<Vec<RunningService>>,
    /// Subscriptions' clock: renewals and dunning run when it passes their due times.
    pub subscriptions_clock: platform::clock::ManualClock,
    /// Billing's clock: the wall clock unless a flow shifts it (invoices are numbered by its year).
    pub billing_clock: ShiftedClock,
    pub marketplace_clock: platform::clock::ManualClock,
    pub rewards_clock: Arc<platform::clock::ManualClock>,
    pub licensing_clock: platform::clock::ManualClock,
    /// The nameserver licensing asks to verify custom domains: publish TXT records here.
    pub dns: licensing::dns::StaticDnsServer,
    /// The webhooks service's replicas (not in [`SERVICES`]: it has no privacy or report part
    /// the flows iterate over); configured by [`webhooks_config`].
    pub webhooks: Vec<RunningService>,
    pub events: Events,
    http: reqwest::Client,
    content_dir: ContentDir,
    _slot: Slot,
}

/// Marketplace's content store for one flow, removed even when the flow fails.
struct ContentDir(PathBuf);

impl Drop for ContentDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_service<F>(env: &TestEnv, spec: &ServiceSpec, setup: F) -> RunningService
where
    F: FnOnce(&Context) -> Result<Wiring, String>,
{
    let mut config = env.service_config(spec.name);
    config.database_pool_size = POOL_SIZE;
    start_service_with(env, spec, config, setup).await
}

/// Migrate and start `spec` with `config`, then wait for its queue.
async fn start_service_with<F>(
    env: &TestEnv,
    spec: &ServiceSpec,
    config: platform::config::ServiceConfig,
    setup: F,
) -> RunningService
where
    F: FnOnce(&Context) -> Result<Wiring, String>,
{
    runtime::migrate(spec, &config).await.expect("migrations");
    let svc = runtime::start(spec, config, setup).await.expect("service starts");
    if svc.consumes {
        // Events published before its queue exists would find no queue: wait for it.
        let queue = env.topology().queue(spec.name);
        testkit::eventually("the service's queue", Duration::from_secs(30), || {
            let queue = queue.clone();
            async move { testkit::bus::queue_depth(&queue).await }
        })
        .await;
    }
    svc
}

fn billing_config(fake: &RunningFake, reconcile_after_seconds: u64) -> billing::Config {
    billing::Config {
        stripe_api_base: fake.base_url().into(),
        stripe_api_key: Secret::new(fake.api_key()),
        stripe_webhook_secrets: Secret::new(WEBHOOK_SECRET),
        stripe_timeout_ms: 5_000,
        void_poll_ms: 100,
        void_retry_base_ms: 1_000,
        reconcile_after_seconds,
        reconcile_interval_ms: 200,
        merchant_name: "Learning Platform Inc.".into(),
        merchant_address: "1 Example Street, Springfield".into(),
        refund_window_days: 14,
        retention_stripe_events_hours: 30 * 24,
        seller_country: "IE".into(),
        seller_vat_id: Some("IE6388047V".into()),
    }
}

/// Webhooks as in development (loopback allowed: the flows' receivers listen there), with the
/// schedule, deadline, disabling period and rotation grace shortened so a flow sees them all.
pub fn webhooks_config() -> webhooks::Config {
    webhooks::Config {
        allowed_hosts: "127.0.0.1".into(),
        retry_schedule: "0s,1s,1s,1s,1s,1s".into(),
        timeout_ms: 1000,
        disable_after_secs: 4,
        rotation_grace_secs: 4,
        dispatch_interval_ms: 100,
        ..webhooks::Config::default()
    }
}

fn licensing_config() -> licensing::Config {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../services/licensing/dev-keys");
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).expect("licensing dev key");
    licensing::Config {
        certificate_signing_key_pem: Secret::new(read("certificate-signing.dev-only.key.pem")),
        certificate_public_key_pem: read("certificate-signing.dev-only.pub.pem"),
        certificate_max_days: 30,
        scheduler_interval_ms: 200,
        branding_max_age_secs: 300,
        branding_cache_ms: 60_000,
        dns_nameservers: None,
        // DEV ONLY (platform::code_hash::DEV_KEY), as in scripts/dev.env.
        code_hash_key: Secret::new(platform::code_hash::DEV_KEY),
        code_hash_previous_keys: None,
        // The e2e platform is a sandbox: test clocks on (issue 23, point 5).
        test_clocks: true,
    }
}

fn gateway_config(
    billing: &str,
    subscriptions: &str,
    marketplace: &str,
    rewards: &str,
    licensing: &str,
    webhooks: &str,
) -> GatewayConfig {
    GatewayConfig {
        host: "127.0.0.1".into(),
        port: 0,
        metrics_port: Some(0),
        internal_token_secret: Secret::new(testkit::INTERNAL_SECRET),
        billing_url: billing.into(),
        subscriptions_url: subscriptions.into(),
        marketplace_url: marketplace.into(),
        rewards_url: rewards.into(),
        licensing_url: licensing.into(),
        webhooks_url: webhooks.into(),
        jwt_algorithms: "RS256,ES256,EdDSA".into(),
        jwt_allow_hs256: false,
        jwt_hs256_secret: None,
        jwt_issuer: testkit::jwt::ISSUER.into(),
        jwt_audience: testkit::jwt::AUDIENCE.into(),
        jwt_leeway_secs: 5,
        jwks_file: Some(testkit::jwt::jwks_path()),
        jwks_url: None,
        jwt_public_key_pem_file: None,
        jwt_public_key_kid: None,
        jwks_refresh_secs: 300,
        jwks_min_refetch_secs: 30,
        rate_limit_ip_per_sec: 100_000,
        rate_limit_ip_burst: 100_000,
        rate_limit_user_per_sec: 100_000,
        rate_limit_user_burst: 100_000,
        rate_limit_replicas: 1,
        rate_limit_expensive_per_min: 100_000,
        rate_limit_expensive_burst: 100_000,
        trusted_proxies: String::new(),
        body_limit_bytes: 8 * 1024 * 1024,
        upload_body_limit_bytes: 8 * 1024 * 1024,
        cors_origins: String::new(),
        upstream_timeout_ms: 15_000,
        upload_timeout_ms: 60_000,
        upstream_probe_ms: 500,
        log_format: LogFormat::Pretty,
        http_workers: 1,
        shutdown_grace_secs: 10,
        shutdown_delay_secs: 0,
    }
}

/// Billing's reconcile age in the flows that do not test it: longer than any flow, so a webhook a
/// flow holds back or reorders is not settled behind its back.
const NEVER_RECONCILE: u64 = 3_600;

/// Whole seconds, so times compare exactly after a database round trip.
fn start_time() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(0).unwrap_or(now)
}

impl Platform {
    /// Everything up, for a flow that leaves the broker alone.
    pub async fn start() -> Self {
        Self::start_inner(false, NEVER_RECONCILE, replicas()).await
    }

    /// Everything up with `n` replicas of each service and `n` gateways, whatever `E2E_REPLICAS`.
    pub async fn start_replicated(n: usize) -> Self {
        Self::start_inner(false, NEVER_RECONCILE, n).await
    }

    /// Everything up, with no other flow of this binary running (the broker may be stopped).
    pub async fn start_exclusive() -> Self {
        Self::start_inner(true, NEVER_RECONCILE, replicas()).await
    }

    /// Everything up, with billing's reconcile job settling, from Stripe, whatever has been
    /// unsettled for a second (lost webhooks).
    pub async fn start_reconciling() -> Self {
        Self::start_inner(false, 1, replicas()).await
    }

    async fn start_inner(exclusive: bool, reconcile_after_seconds: u64, n: usize) -> Self {
        let slot = Slot::take(exclusive, n).await;
        // Before anything installs a tracing subscriber: every service exports its spans to it.
        crate::traces::Collector::global();
        let env = TestEnv::new();
        // First, so that it sees every event the services publish.
        let events = Events::start(&env).await;
        let fake = StripeFake::start(FakeConfig { webhook_secret: WEBHOOK_SECRET.into(), ..FakeConfig::for_tests() })
            .await
            .expect("stripe-fake starts");
        let billing_config = billing_config(&fake, reconcile_after_seconds);
        let billing_clock = ShiftedClock::default();
        let mut billing = Vec::new();
        for _ in 0..n {
            let config = billing_config.clone();
            let clock: platform::clock::SharedClock = Arc::new(billing_clock.clone());
            billing
                .push(start_service(&env, &billing::SPEC, |ctx| billing::setup_with_clock(ctx, config, clock)).await);
        }

        // Replica i of a service calls replica i of the services it depends on (on Kubernetes,
        // their Service spreads those calls).
        let at = start_time();
        let subscriptions_clock = platform::clock::ManualClock::new(at);
        let mut subscriptions = Vec::new();
        for billing in &billing {
            let config = subscriptions::Config {
                billing_url: billing.url(),
                dunning_retry_days: "1,3,5".into(),
                first_payment_timeout_hours: 23,
                scheduler_interval_ms: 100,
                feature_cache_ttl_secs: 300,
                test_clocks: true,
            };
            let clock = Arc::new(subscriptions_clock.clone());
            subscriptions.push(
                start_service(&env, &subscriptions::SPEC, |ctx| subscriptions::setup_with_clock(ctx, config, clock))
                    .await,
            );
        }

        let rewards_clock = Arc::new(platform::clock::ManualClock::new(at));
        let mut rewards = Vec::new();
        for _ in 0..n {
            let clock: Arc<dyn platform::clock::Clock> = rewards_clock.clone();
            rewards.push(
                start_service(&env, &rewards::SPEC, |ctx| {
                    rewards::setup_with_clock(ctx, rewards::Config::default(), clock)
                })
                .await,
            );
        }

        // One content store for every marketplace replica, as the shared volume is in production.
        let content_dir = std::env::temp_dir().join(format!("e2e-content-{}", env.id));
        let marketplace_clock = platform::clock::ManualClock::new(at);
        let mut marketplace = Vec::new();
        for (billing, rewards) in billing.iter().zip(&rewards) {
            let mut config = marketplace::Config::with_billing_url(&billing.url());
            // Checkout reserves reward vouchers at rewards.
            config.rewards_url = rewards.url();
            config.content_dir = content_dir.display().to_string();
            config.scheduler_interval_ms = 500;
            config.test_clocks = true;
            let clock = Arc::new(marketplace_clock.clone());
            marketplace
                .push(start_service(&env, &marketplace::SPEC, |ctx| marketplace::setup_with(ctx, config, clock)).await);
        }
        let content_dir = ContentDir(content_dir);

        let licensing_clock = platform::clock::ManualClock::new(at);
        let dns = licensing::dns::StaticDnsServer::start().await.expect("the test nameserver starts");
        let mut licensing = Vec::new();
        for _ in 0..n {
            let mut config = licensing_config();
            config.dns_nameservers = Some(dns.addr.to_string());
            let clock = Arc::new(licensing_clock.clone());
            licensing.push(
                start_service(&env, &licensing::SPEC, |ctx| licensing::setup_with_clock(ctx, config, clock)).await,
            );
        }

        let mut webhooks = Vec::new();
        for _ in 0..n {
            let config = webhooks_config();
            webhooks.push(start_service(&env, &webhooks::SPEC, |ctx| webhooks::setup(ctx, config)).await);
        }
        let webhooks_urls = webhooks.iter().map(RunningService::url).collect::<Vec<_>>().join(",");

        let services = vec![billing, subscriptions, marketplace, rewards, licensing];
        let urls = |i: usize| services[i].iter().map(RunningService::url).collect::<Vec<_>>().join(",");
        let mut gateways = Vec::new();
        for _ in 0..n {
            let config = gateway_config(&urls(0), &urls(1), &urls(2), &urls(3), &urls(4), &webhooks_urls);
            gateways.push(gateway::start(config).await.expect("gateway starts"));
        }
        let mut gateways = gateways.into_iter();
        let gateway = gateways.next().expect("at least one gateway");
        // As in production: Stripe calls the public webhook route, through the gateway.
        fake.set_webhook_url(Some(&format!("{}/api/payments/webhook", gateway.url())));
        Self {
            env,
            fake,
            gateway,
            more_gateways: gateways.collect(),
            next_gateway: AtomicUsize::new(0),
            services,
            subscriptions_clock,
            billing_clock,
            marketplace_clock,
            rewards_clock,
            licensing_clock,
            dns,
            webhooks,
            events,
            http: testkit::http(),
            content_dir,
            _slot: slot,
        }
    }

    /// Stop everything, drop the schemas and broker objects, then fail on any event that broke
    /// its contract or is not in the catalogue.
    pub async fn stop(self) {
        let Self { env, fake, gateway, more_gateways, services, webhooks, events, content_dir, _slot, .. } = self;
        gateway.stop().await;
        for gw in more_gateways {
            gw.stop().await;
        }
        for svc in webhooks {
            svc.stop().await;
        }
        for svc in services.into_iter().rev().flatten() {
            svc.stop().await;
        }
        fake.stop().await;
        let recorded = events.finish().await;
        env.cleanup(SERVICES).await;
        env.cleanup(&["webhooks"]).await;
        drop(content_dir);
        recorded.assert_contract();
    }

    /// `path` on a gateway: with several, each call takes the next one in turn.
    pub fn url(&self, path: &str) -> String {
        let turn = self.next_gateway.fetch_add(1, Ordering::Relaxed) % (1 + self.more_gateways.len());
        let gateway = if turn == 0 { &self.gateway } else { &self.more_gateways[turn - 1] };
        format!("{}{path}", gateway.url())
    }

    /// Every gateway, the first being [`Platform::gateway`].
    pub fn gateways(&self) -> Vec<&RunningGateway> {
        std::iter::once(&self.gateway).chain(&self.more_gateways).collect()
    }

    /// The running replicas of `service` (a name from [`SERVICES`]).
    pub fn replicas_of(&self, service: &str) -> &[RunningService] {
        let i = SERVICES.iter().position(|s| *s == service).expect("a service name");
        &self.services[i]
    }

    /// Stop every replica of `service` (what losing its database looks like from outside: the
    /// gateway answers 502 for it, its queue keeps what arrives). Returns the first one's port.
    pub async fn stop_service(&mut self, service: &str) -> u16 {
        let i = SERVICES.iter().position(|s| *s == service).expect("a service name");
        let replicas = std::mem::take(&mut self.services[i]);
        let port = replicas.first().expect("a running replica").addr.port();
        for r in replicas {
            r.stop().await;
        }
        port
    }

    /// Start one replica of `service` (billing, marketplace or rewards) on `database_url`, in
    /// the schema name it had (a restore keeps it), on `port` (so the gateway and the other
    /// services find it where it was), with its migrations run first, as the runbook says.
    pub async fn start_service_on(&mut self, service: &str, database_url: &str, port: u16) {
        let mut config = self.env.service_config(service);
        config.database_pool_size = POOL_SIZE;
        config.database_url = Secret::new(database_url);
        config.port = port;
        let env = &self.env;
        let svc = match service {
            "billing" => {
                // A restored billing settles from Stripe what finished after its snapshot (the
                // runbook's step): the reconcile job, at once.
                let c = billing_config(&self.fake, 1);
                let clock: platform::clock::SharedClock = Arc::new(self.billing_clock.clone());
                start_service_with(env, &billing::SPEC, config, |ctx| billing::setup_with_clock(ctx, c, clock)).await
            }
            "rewards" => {
                let clock: Arc<dyn platform::clock::Clock> = self.rewards_clock.clone();
                start_service_with(env, &rewards::SPEC, config, |ctx| {
                    rewards::setup_with_clock(ctx, rewards::Config::default(), clock)
                })
                .await
            }
            "marketplace" => {
                let mut c = marketplace::Config::with_billing_url(&self.replicas_of("billing")[0].url());
                c.rewards_url = self.replicas_of("rewards")[0].url();
                c.content_dir = self.content_dir.0.display().to_string();
                c.scheduler_interval_ms = 500;
                let clock = Arc::new(self.marketplace_clock.clone());
                start_service_with(env, &marketplace::SPEC, config, |ctx| marketplace::setup_with(ctx, c, clock)).await
            }
            other => panic!("start_service_on does not know how to start {other}"),
        };
        let i = SERVICES.iter().position(|s| *s == service).expect("a service name");
        self.services[i].push(svc);
    }

    /// The text of `service`'s `/metrics` (its own listener, not the gateway): `gateway`,
    /// `billing`, `subscriptions`, `marketplace`, `rewards` or `licensing`.
    pub async fn metrics(&self, service: &str) -> String {
        let res = self.http.get(self.metrics_url(service)).send().await.expect("scrape");
        assert_eq!(res.status(), 200);
        res.text().await.expect("metrics text")
    }

    /// The URL of `service`'s own `/metrics` listener (names as for [`Platform::metrics`]); with
    /// several replicas, the first one's.
    pub fn metrics_url(&self, service: &str) -> String {
        let url = match service {
            "gateway" => self.gateway.metrics_url(),
            "webhooks" => self.webhooks[0].metrics_url(),
            _ => self.replicas_of(service)[0].metrics_url(),
        };
        url.expect("metrics listener")
    }

    /// One call through the gateway.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&User>,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Res {
        let mut req = self.http.request(method, self.url(path));
        if let Some(u) = user {
            req = req.bearer_auth(&u.token);
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        into_res(req.send().await.expect("the gateway answers")).await
    }

    pub async fn get(&self, user: Option<&User>, path: &str) -> Res {
        self.call(Method::GET, path, user, None, None).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> Res {
        self.call(Method::POST, path, Some(user), Some(body), None).await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_key(&self, user: &User, path: &str, body: Value, key: &str) -> Res {
        self.call(Method::POST, path, Some(user), Some(body), Some(key)).await
    }

    /// Upload (multipart) and publish a course as `instructor`; returns the published course.
    pub async fn publish_course(&self, instructor: &User, title: &str, price: &str) -> Value {
        let metadata = json!({
            "title": title,
            "description": format!("{title}: a hands-on course, from first principles to production."),
            "category": "programming",
            "level": "intermediate",
            "language": "en",
            "tags": ["rust", "payments"],
            "price": {"amount": price, "currency": "USD"},
        });
        let boundary = format!("e2e-{}", Uuid::new_v4().simple());
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
                 Content-Type: application/json\r\n\r\n{metadata}\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"course.pdf\"\r\n\
                 Content-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(b"%PDF-1.7\n% an e2e course package\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n");
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let res = self
            .http
            .post(self.url("/api/courses/upload"))
            .bearer_auth(&instructor.token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .expect("upload");
        let uploaded = into_res(res).await;
        assert_eq!(uploaded.status, 201, "upload: {}", uploaded.body);
        assert_eq!(uploaded.body["status"], "draft");
        let id = str_of(&uploaded.body["id"]);
        let published =
            self.call(Method::POST, &format!("/api/courses/{id}/publish"), Some(instructor), None, None).await;
        assert_eq!(published.status, 200, "publish: {}", published.body);
        assert_eq!(published.body["status"], "published");
        published.body
    }

    /// `POST /api/courses/purchase` with a fresh Idempotency-Key; asserts 201.
    pub async fn purchase(&self, buyer: &User, course_id: &str) -> Value {
        let key = Uuid::new_v4().to_string();
        let res = self.post_key(buyer, "/api/courses/purchase", json!({"course_id": course_id}), &key).await;
        assert_eq!(res.status, 201, "purchase: {}", res.body);
        res.body
    }

    /// Confirm a payment as the buyer's app would with Stripe, with a test payment method.
    /// Returns the PaymentIntent id.
    pub fn confirm(&self, client_secret: &Value, card: &str) -> String {
        let intent = intent_of(client_secret);
        let _ = self.fake.confirm_payment_intent(&intent, card);
        intent
    }

    /// Buy `course_id` with a good card and wait until the buyer owns it and has earned tokens.
    pub async fn buy(&self, buyer: &User, course_id: &str) -> Bought {
        let purchase = self.purchase(buyer, course_id).await;
        let intent = self.confirm(&purchase["client_secret"], "pm_card_visa");
        self.wait_owned(buyer, course_id).await;
        self.eventually("tokens for the purchase", || async { (self.balance(buyer).await > 0).then_some(()) }).await;
        Bought { purchase_id: str_of(&purchase["id"]), payment_id: str_of(&purchase["payment_id"]), intent }
    }

    /// The buyer's completed purchases (`/api/courses/mine`) of `course_id`.
    pub async fn owned(&self, buyer: &User, course_id: &str) -> Vec<Value> {
        let mine = self.get(Some(buyer), "/api/courses/mine?limit=100").await;
        assert_eq!(mine.status, 200, "{}", mine.body);
        mine.body["data"].as_array().expect("data").iter().filter(|o| o["course"]["id"] == course_id).cloned().collect()
    }

    pub async fn wait_owned(&self, buyer: &User, course_id: &str) -> Value {
        self.eventually(&format!("{course_id} in /api/courses/mine"), || async {
            self.owned(buyer, course_id).await.into_iter().next()
        })
        .await
    }

    pub async fn tokens(&self, user: &User) -> Value {
        let res = self.get(Some(user), "/api/tokens/balance").await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
    }

    pub async fn balance(&self, user: &User) -> i64 {
        self.tokens(user).await["balance"].as_i64().expect("balance")
    }

    /// The caller's ledger entries of `kind`.
    pub async fn transactions(&self, user: &User, kind: &str) -> Vec<Value> {
        let res = self.get(Some(user), &format!("/api/tokens/transactions?kind={kind}&limit=100")).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body["data"].as_array().expect("data").clone()
    }

    pub async fn feature(&self, user: &User, feature: &str) -> Value {
        let res = self.get(Some(user), &format!("/api/features/{feature}")).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
    }

    /// Wait until `feature` answers `allowed` for `user`.
    pub async fn wait_feature(&self, user: &User, feature: &str, allowed: bool) -> Value {
        self.eventually(&format!("{feature} allowed={allowed}"), || async {
            let f = self.feature(user, feature).await;
            (f["allowed"] == allowed).then_some(f)
        })
        .await
    }

    /// Poll until `check` answers, or fail after [`WAIT`].
    pub async fn eventually<T, F, Fut>(&self, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        testkit::eventually(what, WAIT, check).await
    }
}

async fn into_res(res: reqwest::Response) -> Res {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Res { status, body }
}

/// A JSON string's content (panics on anything else: the shape is part of the contract).
pub fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v}")).to_string()
}

/// The PaymentIntent id inside a client secret (`pi_..._secret_...`).
pub fn intent_of(client_secret: &Value) -> String {
    let secret = str_of(client_secret);
    secret.split("_secret_").next().unwrap_or_default().to_string()
}

/// A word no other course has, to find ours by search.
pub fn unique_word() -> String {
    let letters: String =
        Uuid::new_v4().simple().to_string().chars().filter(char::is_ascii_alphabetic).take(8).collect();
    format!("zq{letters}")
}

/// The `Money` amount of `v` (`{"amount": "14.00", "currency": "USD"}`).
pub fn amount(v: &Value) -> String {
    str_of(&v["amount"])
}

/// RabbitMQ's application stopped until [`BrokerDown::restart`] (or drop, should the test fail
/// first: the broker is never left down).
pub struct BrokerDown {
    up: bool,
}

impl BrokerDown {
    pub fn stop() -> Self {
        testkit::bus::rabbitmqctl(&["-q", "stop_app"]);
        Self { up: false }
    }

    pub fn restart(mut self) {
        testkit::bus::rabbitmqctl(&["-q", "start_app"]);
        self.up = true;
    }
}

impl Drop for BrokerDown {
    fn drop(&mut self) {
        if !self.up {
            let _ = std::process::Command::new("rabbitmqctl").args(["-q", "start_app"]).status();
        }
    }
}

/// Every event published on the test's exchange, as seen by a `Capture` bound to `#` (which
/// validates each one against its contract). A broken contract is recorded here and fails the
/// flow at [`Platform::stop`]. The capture is bound again when the broker comes back.
pub struct Events {
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<CloudEvent>>,
    violations: Mutex<Vec<String>>,
    /// How many times the capture was bound (1 after start; more after broker restarts).
    bindings: Mutex<u32>,
    /// Asked to bind again (the broker was restarted): the capture's old connection is dropped
    /// whether or not it has noticed yet.
    rebind: tokio::sync::Notify,
}

/// What a flow's recorder saw, for the final checks.
pub struct Recorded {
    pub seen: Vec<CloudEvent>,
    pub violations: Vec<String>,
}

enum Step {
    Stop,
    Event(Option<Box<CloudEvent>>, Duration),
    Broken(String),
    Rebind,
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

impl Events {
    async fn start(env: &TestEnv) -> Self {
        let shared = Arc::new(Shared::default());
        let capture = Capture::bind(env, &["#"]).await;
        *lock(&shared.bindings) = 1;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let env = env.clone();
        let s = shared.clone();
        let task = tokio::spawn(async move {
            let mut capture = capture;
            // Asked to stop: record what is still in flight, until a quiet moment.
            let mut draining = false;
            loop {
                let started = Instant::now();
                let step = tokio::select! {
                    _ = stopped.changed(), if !draining => Step::Stop,
                    _ = s.rebind.notified(), if !draining => Step::Rebind,
                    got = AssertUnwindSafe(capture.next(Duration::from_millis(500))).catch_unwind() => match got {
                        Ok(e) => Step::Event(e.map(Box::new), started.elapsed()),
                        Err(p) => Step::Broken(panic_text(p.as_ref())),
                    },
                };
                match step {
                    Step::Stop => draining = true,
                    Step::Event(Some(e), _) => lock(&s.seen).push(*e),
                    Step::Broken(why) => lock(&s.violations).push(why),
                    // Nothing for a while on a live connection: fine, or the end of the drain.
                    Step::Event(None, waited) if waited >= Duration::from_millis(400) && capture.is_connected() => {
                        if draining {
                            break;
                        }
                    }
                    // Nothing at once, or a dead connection: the broker stopped. Bind again as
                    // soon as it is back.
                    Step::Event(None, _) | Step::Rebind => match rebind(&env, &mut stopped).await {
                        Some(c) => {
                            capture = c;
                            *lock(&s.bindings) += 1;
                        }
                        None => break,
                    },
                }
            }
        });
        Self { shared, stop, task }
    }

    /// Every event so far, in arrival order.
    pub fn all(&self) -> Vec<CloudEvent> {
        lock(&self.shared.seen).clone()
    }

    pub fn bindings(&self) -> u32 {
        *lock(&self.shared.bindings)
    }

    /// Events of `event_type` matching `pred`, one per envelope id (delivery is at least once).
    pub fn distinct(&self, event_type: &str, pred: impl Fn(&Value) -> bool) -> Vec<CloudEvent> {
        let mut ids = BTreeSet::new();
        self.all().into_iter().filter(|e| e.event_type == event_type && pred(&e.data) && ids.insert(e.id)).collect()
    }

    /// Wait for an event of `event_type` whose data matches `pred`.
    pub async fn wait_for(&self, event_type: &str, pred: impl Fn(&Value) -> bool) -> CloudEvent {
        testkit::eventually(&format!("a {event_type} event"), WAIT, || {
            let found = self.all().into_iter().find(|e| e.event_type == event_type && pred(&e.data));
            async move { found }
        })
        .await
    }

    /// Add events seen by another observer (a [`Witness`]); envelopes already recorded are skipped.
    pub fn merge(&self, more: Vec<CloudEvent>) {
        let mut seen = lock(&self.shared.seen);
        let known: BTreeSet<Uuid> = seen.iter().map(|e| e.id).collect();
        seen.extend(more.into_iter().filter(|e| !known.contains(&e.id)));
    }

    /// Once the broker is back: wait until the capture is bound again, asking it to bind at once
    /// if it has not (its connection's end may not have reached it yet).
    pub async fn wait_rebound(&self, before: u32) {
        if self.bindings() == before {
            self.shared.rebind.notify_one();
        }
        testkit::eventually("the event capture to be bound again", WAIT, || {
            let n = self.bindings();
            async move { (n > before).then_some(()) }
        })
        .await
    }

    async fn finish(self) -> Recorded {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        Recorded { seen: lock(&self.shared.seen).clone(), violations: lock(&self.shared.violations).clone() }
    }
}

impl Recorded {
    /// No event broke its contract (envelope and data schema, checked by the capture), and every
    /// event type seen is one the catalogue declares.
    pub fn assert_contract(&self) {
        assert!(self.violations.is_empty(), "events broke their contracts: {:#?}", self.violations);
        let catalog = events::catalog::all_event_types();
        let unknown: BTreeSet<&str> =
            self.seen.iter().map(|e| e.event_type.as_str()).filter(|t| !catalog.contains(t)).collect();
        assert!(unknown.is_empty(), "event types outside events::catalog: {unknown:?}");
    }
}

/// How long one attempt to bind the capture again may take before it is abandoned and retried.
const REBIND_ATTEMPT: Duration = Duration::from_secs(5);

async fn rebind(env: &TestEnv, stopped: &mut tokio::sync::watch::Receiver<bool>) -> Option<Capture> {
    // Marketplace's queue is durable: once it answers a passive declare, the broker is back.
    let probe = env.topology().queue("marketplace");
    loop {
        if *stopped.borrow() {
            return None;
        }
        // `Capture::bind` panics when the broker is unreachable: ask first, and catch the rest.
        // Each attempt is bounded: a connect made while the broker is going down can be accepted
        // and then never answered, and would otherwise wait past its return.
        if let Ok(Some(_)) = tokio::time::timeout(REBIND_ATTEMPT, testkit::bus::queue_depth(&probe)).await {
            let bind = AssertUnwindSafe(Capture::bind(env, &["#"])).catch_unwind();
            if let Ok(Ok(c)) = tokio::time::timeout(REBIND_ATTEMPT, bind).await {
                return Some(c);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stopped.changed() => {}
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A durable queue bound to `#`, for the window in which the broker restarts: the capture's
/// exclusive queue dies with its connection, and a relay may publish before the capture is bound
/// again; this queue survives the restart and keeps those events.
pub struct Witness {
    queue: String,
}

impl Witness {
    pub async fn bind(env: &TestEnv) -> Self {
        let queue = format!("{}e2e.witness", env.queue_prefix);
        let conn = Connection::connect(&testkit::amqp_url(), ConnectionProperties::default()).await.expect("amqp");
        let ch = conn.create_channel().await.expect("channel");
        env.topology().declare_exchanges(&ch).await.expect("exchanges");
        ch.queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .expect("witness queue");
        ch.queue_bind(
            queue.as_str().into(),
            env.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
        let _ = conn.close(200, "bye".into()).await;
        Self { queue }
    }

    /// Every event the queue holds, each checked against its contract, then the queue deleted.
    pub async fn drain(self) -> Vec<CloudEvent> {
        let conn = Connection::connect(&testkit::amqp_url(), ConnectionProperties::default()).await.expect("amqp");
        let ch = conn.create_channel().await.expect("channel");
        let mut out = Vec::new();
        while let Some(msg) =
            ch.basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true }).await.expect("basic.get")
        {
            let raw: Value = serde_json::from_slice(&msg.delivery.data).expect("an event is JSON");
            testkit::schema::assert_valid_event(&raw);
            out.push(serde_json::from_value(raw).expect("a CloudEvent"));
        }
        let _ = ch.queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default()).await;
        let _ = conn.close(200, "bye".into()).await;
        out
    }
}
