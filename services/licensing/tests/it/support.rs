use chrono::{DateTime, Duration, Timelike, Utc};
use licensing::dns::StaticDnsServer;
use licensing::Config;
use platform::auth::{InternalAuth, Role};
use platform::clock::ManualClock;
use platform::config::Secret;
use reqwest::{Method, RequestBuilder, Response};
use runtime::RunningService;
use serde_json::{json, Value};
use std::sync::Arc;
use testkit::bus::Capture;
use testkit::TestEnv;
use uuid::Uuid;

/// The committed DEV-ONLY key pair (see dev-keys/README.md).
pub fn config() -> Config {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dev-keys");
    let private = std::fs::read_to_string(format!("{dir}/certificate-signing.dev-only.key.pem")).unwrap();
    let public = std::fs::read_to_string(format!("{dir}/certificate-signing.dev-only.pub.pem")).unwrap();
    Config {
        certificate_signing_key_pem: Secret::new(private),
        certificate_public_key_pem: public,
        certificate_max_days: 30,
        scheduler_interval_ms: 50,
        branding_max_age_secs: 300,
        branding_cache_ms: 60_000,
        dns_nameservers: None,
        // DEV ONLY (platform::code_hash::DEV_KEY), as in scripts/dev.env.
        code_hash_key: Secret::new(platform::code_hash::DEV_KEY),
        code_hash_previous_keys: None,
        test_clocks: false,
    }
}

/// Who calls: a user id, roles and the organisation in their token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Uuid,
    pub roles: Vec<Role>,
    pub org: Option<Uuid>,
}

impl Caller {
    pub fn admin() -> Self {
        Self { user: Uuid::now_v7(), roles: vec![Role::Admin], org: None }
    }
    pub fn learner() -> Self {
        Self { user: Uuid::now_v7(), roles: vec![Role::Learner], org: None }
    }
    pub fn member(org: Uuid) -> Self {
        Self { user: Uuid::now_v7(), roles: vec![Role::Learner], org: Some(org) }
    }
    pub fn org_admin(org: Uuid) -> Self {
        Self { user: Uuid::now_v7(), roles: vec![Role::OrgAdmin], org: Some(org) }
    }
    pub fn token(&self) -> String {
        InternalAuth::new(&Secret::new(testkit::INTERNAL_SECRET), "gateway")
            .mint("licensing", &self.user.to_string(), &self.roles, self.org, None)
            .unwrap()
    }
}

pub struct Stack {
    pub env: TestEnv,
    pub svc: RunningService,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub admin: Caller,
    /// The nameserver custom-domain verification asks: publish TXT records here.
    pub dns: StaticDnsServer,
}

/// A fixed, whole-second start so that times compare exactly after a database round trip.
pub fn start_time() -> DateTime<Utc> {
    Utc::now().with_nanosecond(0).unwrap()
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_at(start_time()).await
    }

    pub async fn start_at(at: DateTime<Utc>) -> Self {
        Self::start_with(TestEnv::new(), at).await
    }

    /// Start on `env` (bind a `Capture` to it first to watch the events).
    pub async fn start_with(env: TestEnv, at: DateTime<Utc>) -> Self {
        Self::start_configured(env, at, config()).await
    }

    /// With test clocks on (`LICENSING_TEST_CLOCKS=true`, the sandbox's).
    pub async fn start_clocked(at: DateTime<Utc>) -> Self {
        Self::start_configured(TestEnv::new(), at, Config { test_clocks: true, ..config() }).await
    }

    async fn start_configured(env: TestEnv, at: DateTime<Utc>, mut cfg: Config) -> Self {
        let clock = ManualClock::new(at);
        let c = Arc::new(clock.clone());
        let dns = StaticDnsServer::start().await.unwrap();
        cfg.dns_nameservers = Some(dns.addr.to_string());
        let svc = testkit::service::start(&env, &licensing::SPEC, |ctx| licensing::setup_with_clock(ctx, cfg, c)).await;
        Self { env, svc, http: testkit::http(), clock, admin: Caller::admin(), dns }
    }

    pub async fn stop(self) {
        self.svc.stop().await;
        self.env.cleanup(&["licensing"]).await;
    }

    pub fn req(&self, method: Method, path: &str, caller: Option<&Caller>) -> RequestBuilder {
        let b = self.http.request(method, format!("{}{path}", self.svc.url()));
        match caller {
            Some(c) => b.header("x-internal-token", c.token()),
            None => b,
        }
    }

    pub async fn get(&self, path: &str, caller: &Caller) -> Response {
        self.req(Method::GET, path, Some(caller)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, caller: &Caller, body: Value) -> Response {
        self.req(Method::POST, path, Some(caller)).json(&body).send().await.unwrap()
    }

    pub async fn create_license_as(&self, caller: &Caller, body: Value) -> Response {
        self.req(Method::POST, "/api/enterprise/licenses/create", Some(caller))
            .header("idempotency-key", Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub fn license_body(&self, domain: &str, seats: i32, valid_for: Duration) -> Value {
        let now = self.clock_now();
        json!({
            "organization": {"name": format!("Org {domain}"), "domain": domain},
            "seats": seats,
            "tier": "enterprise",
            "starts_at": now - Duration::hours(1),
            "expires_at": now + valid_for,
        })
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        platform::clock::Clock::now(&self.clock)
    }

    /// An enterprise license for a fresh organisation, valid a year.
    pub async fn license(&self, seats: i32) -> Value {
        self.license_valid_for(seats, Duration::days(365)).await
    }

    pub async fn license_valid_for(&self, seats: i32, valid_for: Duration) -> Value {
        let domain = format!("org-{}.example.com", &Uuid::new_v4().simple().to_string()[..10]);
        let res = self.create_license_as(&self.admin, self.license_body(&domain, seats, valid_for)).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        res.json().await.unwrap()
    }

    pub async fn activate(&self, caller: &Caller, key: &str) -> Response {
        self.post("/api/enterprise/licenses/activate", caller, json!({"license_key": key})).await
    }
}

pub fn org_of(license: &Value) -> Uuid {
    license["organization"]["id"].as_str().unwrap().parse().unwrap()
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

pub fn key_of(license: &Value) -> String {
    license["license_key"].as_str().unwrap().to_string()
}

pub async fn code(res: Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_string())
}

/// Start with a capture of every licensing event already bound.
pub async fn start_capturing(at: DateTime<Utc>) -> (Stack, Capture) {
    let env = TestEnv::new();
    let capture = Capture::bind(&env, &["licensing.#"]).await;
    (Stack::start_with(env, at).await, capture)
}
