//! The keys client JWTs are verified with, kept current while the identity provider rotates them.
//!
//! Keys come from JWKS documents (`GATEWAY_JWKS_FILE`, `GATEWAY_JWKS_URL`), which are read again
//! every `GATEWAY_JWKS_REFRESH_SECS` and when a token names a `kid` nobody here knows, and from
//! fixed keys (a PEM public key, the dev HS256 secret) that never change while the process runs.
//!
//! - Readers take an `Arc` snapshot (a read lock held for one pointer copy); a refresh builds a
//!   whole new set and swaps it in, so a request never sees half a rotation.
//! - A fetch that fails keeps that source's last good keys: an identity provider outage must not
//!   lock every user out. It is counted and logged, and the last success is a gauge to alert on.
//! - Unknown `kid`s: one fetch at a time (callers that arrive while it runs wait for its result
//!   instead of fetching again), and at most one per `GATEWAY_JWKS_MIN_REFETCH_SECS`, so tokens
//!   with made-up `kid`s cannot turn the gateway into a load generator against the provider.

use crate::config::GatewayConfig;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use platform::metrics::{CounterVec, GaugeVec, Metrics};
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

/// A public key and the one algorithm it verifies.
#[derive(Clone)]
pub struct Key {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

/// One immutable generation of the verification keys.
pub struct KeySet {
    keys: HashMap<String, Key>,
    /// Used when a token has no `kid`: the PEM key's, or the only key there is.
    default_kid: Option<String>,
}

impl KeySet {
    /// The key a token's `kid` (or, without one, the default) names, with the kid it resolved to.
    pub fn find<'a>(&'a self, kid: Option<&'a str>) -> Option<(&'a str, &'a Key)> {
        let kid = kid.or(self.default_kid.as_deref())?;
        self.keys.get(kid).map(|key| (kid, key))
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn has_default(&self) -> bool {
        self.default_kid.is_some()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys of one JWKS document (the default is its only key, if it has one): what a
    /// refresh reads, for tests and the fuzz targets.
    pub fn from_jwks(raw: &str) -> Result<Self, String> {
        let keys = parse_jwks(raw)?;
        let default_kid = if keys.len() == 1 { keys.keys().next().cloned() } else { None };
        Ok(Self { keys, default_kid })
    }
}

/// Where a JWKS document is read from.
#[derive(Debug, Clone)]
enum Source {
    File(String),
    Url(String),
}

impl Source {
    fn kind(&self) -> &'static str {
        match self {
            Source::File(_) => "file",
            Source::Url(_) => "url",
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::File(path) => format!("GATEWAY_JWKS_FILE {path}"),
            Source::Url(url) => format!("GATEWAY_JWKS_URL {url}"),
        }
    }
}

/// Why a refresh ran (a metric label).
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    Periodic,
    UnknownKid,
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Trigger::Periodic => "periodic",
            Trigger::UnknownKid => "unknown_kid",
        }
    }
}

#[derive(Clone)]
pub struct JwksMetrics {
    /// By source (file, url) and outcome (ok, failed).
    fetches: CounterVec,
    /// Unknown-kid refreshes not run because the last fetch is younger than the minimum interval.
    throttled: CounterVec,
    keys: GaugeVec,
    last_success: GaugeVec,
}

impl JwksMetrics {
    pub fn new(metrics: &Metrics) -> Self {
        let m = Self {
            fetches: metrics.counter(
                "monetization_gateway_jwks_fetches",
                "JWKS documents read, by source (file, url), trigger (start, periodic, unknown_kid) and outcome (ok, failed)",
                &["source", "trigger", "outcome"],
            ),
            throttled: metrics.counter(
                "monetization_gateway_jwks_refetch_throttled",
                "Tokens with an unknown kid that did not cause a fetch (minimum interval not over)",
                &[],
            ),
            keys: metrics.gauge("monetization_gateway_jwks_keys", "Verification keys in use", &[]),
            last_success: metrics.gauge(
                "monetization_gateway_jwks_last_success_timestamp_seconds",
                "When every JWKS source was last read successfully (Unix time; only with periodic refresh)",
                &[],
            ),
        };
        m.throttled.inc_by(&[], 0);
        for source in ["file", "url"] {
            for trigger in ["periodic", "unknown_kid"] {
                m.fetches.inc_by(&[source, trigger, "failed"], 0);
            }
        }
        m
    }
}

/// Refresh bookkeeping; its async mutex is what makes unknown-kid fetches single-flight.
struct RefreshState {
    /// The last good keys of each source, in `KeyRing::sources` order.
    last_good: Vec<HashMap<String, Key>>,
    last_attempt: Instant,
}

pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    sources: Vec<Source>,
    /// PEM and HS256 keys: configuration, not fetched.
    fixed: HashMap<String, Key>,
    fixed_default: Option<String>,
    state: tokio::sync::Mutex<RefreshState>,
    http: reqwest::Client,
    refresh_every: Duration,
    min_refetch: Duration,
    metrics: JwksMetrics,
}

impl KeyRing {
    /// Read every source once. Startup fails when one cannot be read: a gateway that cannot
    /// verify anyone must not look ready.
    pub async fn load(config: &GatewayConfig, metrics: JwksMetrics) -> Result<Arc<Self>, String> {
        let mut sources = Vec::new();
        if let Some(path) = &config.jwks_file {
            sources.push(Source::File(path.clone()));
        }
        if let Some(url) = &config.jwks_url {
            sources.push(Source::Url(url.clone()));
        }
        let mut fixed = HashMap::new();
        let mut fixed_default = None;
        if let Some(path) = &config.jwt_public_key_pem_file {
            let pem = std::fs::read(path).map_err(|e| format!("GATEWAY_JWT_PUBLIC_KEY_PEM_FILE {path}: {e}"))?;
            let (key, algorithm) = pem_key(&pem)?;
            let kid = config.jwt_public_key_kid.clone().unwrap_or_else(|| "pem".into());
            fixed_default = Some(kid.clone());
            fixed.insert(kid, Key { key, algorithm });
        }
        if let (true, Some(secret)) = (config.jwt_allow_hs256, &config.jwt_hs256_secret) {
            fixed.insert(
                "hs256".into(),
                Key { key: DecodingKey::from_secret(secret.expose().as_bytes()), algorithm: Algorithm::HS256 },
            );
        }
        if config.jwks_min_refetch_secs == 0 {
            return Err("GATEWAY_JWKS_MIN_REFETCH_SECS must be at least 1".into());
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let mut last_good = Vec::new();
        for source in &sources {
            let keys = fetch(&http, source).await.map_err(|e| format!("{}: {e}", source.describe()))?;
            metrics.fetches.inc(&[source.kind(), "start", "ok"]);
            last_good.push(keys);
        }
        let mut ring = Self {
            current: RwLock::new(Arc::new(KeySet { keys: HashMap::new(), default_kid: None })),
            sources,
            fixed,
            fixed_default,
            state: tokio::sync::Mutex::new(RefreshState { last_good: Vec::new(), last_attempt: Instant::now() }),
            http,
            refresh_every: Duration::from_secs(config.jwks_refresh_secs),
            min_refetch: Duration::from_secs(config.jwks_min_refetch_secs),
            metrics,
        };
        let set = ring.merge(&last_good);
        if set.is_empty() {
            return Err(
                "no JWT verification key: set GATEWAY_JWKS_FILE, GATEWAY_JWKS_URL or GATEWAY_JWT_PUBLIC_KEY_PEM_FILE"
                    .into(),
            );
        }
        ring.publish(set);
        ring.note_success();
        ring.state.get_mut().last_good = last_good;
        Ok(Arc::new(ring))
    }

    /// The keys in force now (lock-free in practice: a read lock around one `Arc` clone).
    pub fn current(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `kid` is published now (the verified-token cache asks on every hit: no `Arc` clone).
    pub fn contains(&self, kid: &str) -> bool {
        self.current.read().unwrap_or_else(|e| e.into_inner()).contains(kid)
    }

    /// A token names a `kid` we do not have: read the sources again, unless a fetch already ran
    /// within the minimum interval (then the caller just looks again: that fetch may be the one
    /// it waited for).
    pub async fn refresh_for_unknown_kid(&self) {
        if self.sources.is_empty() {
            return;
        }
        let mut state = self.state.lock().await;
        if state.last_attempt.elapsed() < self.min_refetch {
            self.metrics.throttled.inc(&[]);
            return;
        }
        self.refresh_locked(&mut state, Trigger::UnknownKid).await;
    }

    /// Read every source again now.
    pub async fn refresh(&self, trigger: Trigger) {
        let mut state = self.state.lock().await;
        self.refresh_locked(&mut state, trigger).await;
    }

    /// Refresh every `GATEWAY_JWKS_REFRESH_SECS` until the gateway is dropped (0: never).
    pub fn spawn_periodic(self: &Arc<Self>) {
        if self.sources.is_empty() || self.refresh_every.is_zero() {
            return;
        }
        let ring: Weak<Self> = Arc::downgrade(self);
        let every = self.refresh_every;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(ring) = ring.upgrade() else { return };
                ring.refresh(Trigger::Periodic).await;
            }
        });
    }

    async fn refresh_locked(&self, state: &mut RefreshState, trigger: Trigger) {
        state.last_attempt = Instant::now();
        let mut all_ok = true;
        for (i, source) in self.sources.iter().enumerate() {
            match fetch(&self.http, source).await {
                Ok(keys) => {
                    self.metrics.fetches.inc(&[source.kind(), trigger.label(), "ok"]);
                    state.last_good[i] = keys;
                }
                Err(e) => {
                    all_ok = false;
                    self.metrics.fetches.inc(&[source.kind(), trigger.label(), "failed"]);
                    tracing::warn!(source = %source.describe(), error = %e, trigger = trigger.label(),
                        "JWKS refresh failed; keeping the last good keys of this source");
                }
            }
        }
        let before = self.current();
        let after = self.merge(&state.last_good);
        let added: Vec<&String> = after.keys.keys().filter(|k| !before.contains(k)).collect();
        let removed: Vec<&String> = before.keys.keys().filter(|k| !after.contains(k)).collect();
        if !added.is_empty() || !removed.is_empty() {
            tracing::info!(?added, ?removed, trigger = trigger.label(), "JWKS changed");
        }
        self.publish(after);
        if all_ok {
            self.note_success();
        }
    }

    /// Exported only when the sources are read periodically: without refreshes the timestamp
    /// would age forever and `JwksRefreshFailing` would fire on a gateway that is fine.
    fn note_success(&self) {
        if !self.sources.is_empty() && !self.refresh_every.is_zero() {
            self.metrics.last_success.set(&[], unix_now());
        }
    }

    fn merge(&self, fetched: &[HashMap<String, Key>]) -> KeySet {
        let mut keys = HashMap::new();
        for source_keys in fetched {
            keys.extend(source_keys.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        // Configured keys win over a fetched key with the same kid.
        keys.extend(self.fixed.iter().map(|(k, v)| (k.clone(), v.clone())));
        let default_kid =
            self.fixed_default.clone().or_else(|| if keys.len() == 1 { keys.keys().next().cloned() } else { None });
        KeySet { keys, default_kid }
    }

    fn publish(&self, set: KeySet) {
        self.metrics.keys.set(&[], set.len() as f64);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}

async fn fetch(http: &reqwest::Client, source: &Source) -> Result<HashMap<String, Key>, String> {
    let raw = match source {
        Source::File(path) => std::fs::read_to_string(path).map_err(|e| e.to_string())?,
        Source::Url(url) => http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?,
    };
    parse_jwks(&raw)
}

fn parse_jwks(raw: &str) -> Result<HashMap<String, Key>, String> {
    let set: JwkSet = serde_json::from_str(raw).map_err(|e| format!("JWKS is not valid: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let kid = jwk.common.key_id.clone().ok_or("every JWKS key needs a kid")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key {kid}: {e}"))?;
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
            AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            _ => return Err(format!("JWKS key {kid}: only RSA, EC and OKP public keys are accepted")),
        };
        keys.insert(kid, Key { key, algorithm });
    }
    Ok(keys)
}

fn pem_key(pem: &[u8]) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(k) = DecodingKey::from_ed_pem(pem) {
        return Ok((k, Algorithm::EdDSA));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(pem) {
        return Ok((k, Algorithm::ES256));
    }
    DecodingKey::from_rsa_pem(pem).map(|k| (k, Algorithm::RS256)).map_err(|e| format!("PEM key: {e}"))
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
