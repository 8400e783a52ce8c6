//! `GATEWAY_*` settings.

use platform::config::{LogFormat, Secret};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct GatewayConfig {
    #[serde(default = "default_host")]
    pub host: String,
    pub port: u16,
    /// Port of the Prometheus `/metrics` listener (0 = any free port); unset: none.
    #[serde(default)]
    pub metrics_port: Option<u16>,
    pub internal_token_secret: Secret,
    /// Upstream base URLs per service: one, or several comma-separated replicas (outside
    /// Kubernetes; there the Service spreads the calls). Calls take turns round-robin; a
    /// connection refused moves the call to the next replica (`proxy::forward`).
    pub billing_url: String,
    pub subscriptions_url: String,
    pub marketplace_url: String,
    pub rewards_url: String,
    pub licensing_url: String,
    /// The webhooks service (outgoing webhooks, issue 23).
    pub webhooks_url: String,
    /// Accepted JWT algorithms, comma-separated, from RS256, ES256, EdDSA (and HS256 only with
    /// `GATEWAY_JWT_ALLOW_HS256=true`, for local development).
    #[serde(default = "default_algorithms")]
    pub jwt_algorithms: String,
    #[serde(default)]
    pub jwt_allow_hs256: bool,
    pub jwt_hs256_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Clock skew tolerated on exp/nbf; at most 30 s.
    #[serde(default = "default_leeway")]
    pub jwt_leeway_secs: u64,
    /// Verification keys: a JWKS document (file or URL, keyed by `kid`) and/or one PEM public key.
    pub jwks_file: Option<String>,
    pub jwks_url: Option<String>,
    pub jwt_public_key_pem_file: Option<String>,
    /// The `kid` the PEM key answers to (tokens without a `kid` also use it).
    pub jwt_public_key_kid: Option<String>,
    /// Seconds between two reads of the JWKS sources, so a key the identity provider publishes
    /// (or withdraws) takes effect without a restart; 0 reads them at start only.
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_secs: u64,
    /// Least seconds between two reads caused by tokens naming an unknown `kid` (at least 1):
    /// made-up kids must not make the gateway hammer the identity provider.
    #[serde(default = "default_jwks_min_refetch")]
    pub jwks_min_refetch_secs: u64,
    #[serde(default = "default_ip_rate")]
    pub rate_limit_ip_per_sec: u32,
    #[serde(default = "default_ip_burst")]
    pub rate_limit_ip_burst: u32,
    #[serde(default = "default_user_rate")]
    pub rate_limit_user_per_sec: u32,
    #[serde(default = "default_user_burst")]
    pub rate_limit_user_burst: u32,
    /// How many gateway replicas share the four limits above: each enforces 1/N of the rate and
    /// of the burst, so N replicas behind a per-request load balancer admit about the configured
    /// total (docs/operations.md, "Rate limits at N replicas").
    #[serde(default = "default_rate_limit_replicas")]
    pub rate_limit_replicas: u32,
    /// Requests per minute and burst per user (per IP when anonymous) on the expensive routes
    /// (`route_table::is_expensive`: catalogue search, data exports, reports, audit reads), on
    /// top of the per-user limit. Divided by `rate_limit_replicas` like the others.
    #[serde(default = "default_expensive_per_min")]
    pub rate_limit_expensive_per_min: u32,
    #[serde(default = "default_expensive_burst")]
    pub rate_limit_expensive_burst: u32,
    /// Peers whose `X-Forwarded-For` is believed (the ingress), comma-separated IPs or CIDRs
    /// (`10.0.0.0/8`): ingress controller pods change addresses.
    #[serde(default)]
    pub trusted_proxies: String,
    /// Largest request body on every route but the upload routes (413 `payload_too_large`).
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Largest request body on the upload routes (`route_table::UPLOADS`: course packages, up
    /// to marketplace's 200 MiB plus the multipart framing).
    #[serde(default = "default_upload_body_limit")]
    pub upload_body_limit_bytes: usize,
    /// Allowed CORS origins, comma-separated (`https://app.example.com`).
    #[serde(default)]
    pub cors_origins: String,
    #[serde(default = "default_timeout")]
    pub upstream_timeout_ms: u64,
    /// How often each replica's `/health/ready` is polled, for services given several URLs
    /// (`probe`); 0 turns the probes off.
    #[serde(default = "default_probe")]
    pub upstream_probe_ms: u64,
    /// The whole exchange on an upload route, body included: 200 MiB at 10 Mbit/s is ~3 minutes.
    #[serde(default = "default_upload_timeout")]
    pub upload_timeout_ms: u64,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default = "platform::config::default_http_workers")]
    pub http_workers: usize,
    /// Seconds the whole shutdown may take after SIGTERM (as the domain services'
    /// `<SVC>_SHUTDOWN_GRACE_SECS`): in-flight requests still running then are cut.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// Seconds between SIGTERM and closing the listener, serving on with readiness 503 so load
    /// balancers stop routing here first. 0 on Kubernetes, whose preStop sleep does this job.
    #[serde(default)]
    pub shutdown_delay_secs: u64,
}

fn default_shutdown_grace_secs() -> u64 {
    platform::server::SHUTDOWN_GRACE_SECS
}

fn default_probe() -> u64 {
    500
}
fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_algorithms() -> String {
    "RS256,ES256,EdDSA".into()
}
fn default_leeway() -> u64 {
    10
}
fn default_ip_rate() -> u32 {
    1000
}
fn default_ip_burst() -> u32 {
    2000
}
fn default_user_rate() -> u32 {
    100
}
fn default_user_burst() -> u32 {
    200
}
fn default_jwks_refresh() -> u64 {
    300
}
fn default_jwks_min_refetch() -> u64 {
    30
}
fn default_expensive_per_min() -> u32 {
    crate::rate_limit::EXPENSIVE_PER_MIN
}
fn default_expensive_burst() -> u32 {
    crate::rate_limit::EXPENSIVE_BURST
}
fn default_rate_limit_replicas() -> u32 {
    1
}
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_upload_body_limit() -> usize {
    256 * 1024 * 1024
}
fn default_timeout() -> u64 {
    10_000
}
fn default_upload_timeout() -> u64 {
    600_000
}

pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}
