use gateway::config::GatewayConfig;
use gateway::RunningGateway;
use platform::config::{LogFormat, Secret};
use runtime::RunningService;
use testkit::TestEnv;

/// A bare service booted by the shared runtime as "billing": internal auth, whoami, health.
/// (Tests of one service never depend on another service's crate.)
pub const UPSTREAM: runtime::ServiceSpec =
    runtime::ServiceSpec { name: "billing", migrations: &events::MIGRATIONS, openapi: runtime::no_api };

pub struct Stack {
    pub env: TestEnv,
    pub billing: RunningService,
    pub gateway: RunningGateway,
    pub http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Billing in its own schema plus a gateway in front of it; `tweak` adjusts the gateway config.
    pub async fn start_with(tweak: impl FnOnce(&mut GatewayConfig)) -> Self {
        let env = TestEnv::new();
        let config = env.service_config("billing");
        runtime::migrate(&UPSTREAM, &config).await.expect("migrate");
        let billing = runtime::start(&UPSTREAM, config, |_| {
            Ok(runtime::Wiring { routes: std::sync::Arc::new(|_| {}), handler: None, background: Vec::new() })
        })
        .await
        .expect("upstream starts");
        let mut gw = gateway_config(&billing.url());
        tweak(&mut gw);
        let gateway = gateway::start(gw).await.expect("gateway starts");
        Self { env, billing, gateway, http: testkit::http() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    pub async fn stop(self) {
        self.gateway.stop().await;
        self.billing.stop().await;
        self.env.cleanup(&["billing"]).await;
    }
}

pub fn gateway_config(upstream: &str) -> GatewayConfig {
    GatewayConfig {
        host: "127.0.0.1".into(),
        port: 0,
        metrics_port: Some(0),
        internal_token_secret: Secret::new(testkit::INTERNAL_SECRET),
        billing_url: upstream.into(),
        subscriptions_url: upstream.into(),
        marketplace_url: upstream.into(),
        rewards_url: upstream.into(),
        licensing_url: upstream.into(),
        webhooks_url: upstream.into(),
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
        rate_limit_ip_per_sec: 10_000,
        rate_limit_ip_burst: 10_000,
        rate_limit_user_per_sec: 10_000,
        rate_limit_user_burst: 10_000,
        rate_limit_replicas: 1,
        rate_limit_expensive_per_min: 100_000,
        rate_limit_expensive_burst: 100_000,
        trusted_proxies: String::new(),
        body_limit_bytes: 1024 * 1024,
        upload_body_limit_bytes: 8 * 1024 * 1024,
        cors_origins: "https://app.example.com".into(),
        upstream_timeout_ms: 5_000,
        upload_timeout_ms: 60_000,
        upstream_probe_ms: 500,
        log_format: LogFormat::Pretty,
        http_workers: 1,
        shutdown_grace_secs: 10,
        shutdown_delay_secs: 0,
    }
}

/// Assert a problem+json answer with `status` and `code`.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(ct.starts_with("application/problem+json"), "content-type was {ct}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["type"].is_string());
    body
}
