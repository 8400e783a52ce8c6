//! Which service answers which path, and which paths need no token.

use crate::config::{split_list, GatewayConfig};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// One replica of a service.
#[derive(Debug)]
pub struct Replica {
    pub base_url: String,
    /// The path part of `base_url` without its trailing slash (usually empty): every forwarded
    /// URL's path is exactly this followed by the request's path.
    pub base_path: String,
    /// What its `/health/ready` said last (`crate::probe`; true until a probe says otherwise).
    ready: AtomicBool,
}

impl Replica {
    fn parse(raw: &str) -> Self {
        let base_url = raw.trim_end_matches('/').to_string();
        let base_path =
            reqwest::Url::parse(&base_url).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default();
        Self { base_url, base_path, ready: AtomicBool::new(true) }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// A service and its replicas. Clones share the replicas and the rotation, so every route
/// prefix of one service spreads its calls over the same sequence.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The service name: the internal token's audience.
    pub service: &'static str,
    replicas: Arc<[Replica]>,
    next: Arc<AtomicUsize>,
}

impl Upstream {
    /// `urls`: one base URL, or several comma-separated (replicas outside Kubernetes, where no
    /// Service spreads the calls). At least one is required.
    pub fn new(service: &'static str, urls: &str) -> Result<Self, String> {
        let replicas: Vec<Replica> = split_list(urls).iter().map(|u| Replica::parse(u)).collect();
        if replicas.is_empty() {
            return Err(format!("GATEWAY_{}_URL: no upstream URL", service.to_uppercase()));
        }
        Ok(Self { service, replicas: replicas.into(), next: Arc::new(AtomicUsize::new(0)) })
    }

    /// Every replica once, starting at the next one in the round-robin: the first is the one
    /// this request goes to, the others are where it may be retried. Replicas whose last
    /// readiness probe failed (draining, restarting) come last: tried only when no ready one
    /// answers, never skipped outright (a probe can be wrong, and some answer beats none).
    pub fn rotation(&self) -> impl Iterator<Item = &Replica> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.replicas.len();
        let turn = (0..n).map(move |i| &self.replicas[(start + i) % n]);
        turn.clone().filter(|r| r.is_ready()).chain(turn.filter(|r| !r.is_ready()))
    }

    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    /// (path prefix, upstream), longest prefix first.
    routes: Vec<(&'static str, Upstream)>,
}

/// Path prefixes owned by each service (the public API's layout).
const PREFIXES: &[(&str, &str)] = &[
    ("/api/payments", "billing"),
    ("/api/billing", "billing"),
    ("/api/subscriptions", "subscriptions"),
    ("/api/features", "subscriptions"),
    // Test clocks (sandbox only): subscriptions owns them (issue 23, point 5).
    ("/api/test-clocks", "subscriptions"),
    ("/api/courses", "marketplace"),
    ("/api/instructors", "marketplace"),
    ("/api/marketplace", "marketplace"),
    ("/api/tokens", "rewards"),
    ("/api/leaderboard", "rewards"),
    ("/api/friends", "rewards"),
    ("/api/rewards", "rewards"),
    ("/api/enterprise", "licensing"),
    ("/api/licensing", "licensing"),
    // Admin reports: each service reports on what it owns.
    ("/api/admin/reports/subscriptions", "subscriptions"),
    ("/api/admin/reports/payments", "billing"),
    ("/api/admin/reports/marketplace", "marketplace"),
    ("/api/admin/reports/rewards", "rewards"),
    ("/api/admin/reports/licensing", "licensing"),
    // Tax rates: billing computes tax (issue 20).
    ("/api/admin/tax-rates", "billing"),
    // Erasure requests: rewards owns them (docs/operations.md, "Audit and privacy").
    ("/api/admin/users", "rewards"),
    ("/api/admin/erasures", "rewards"),
    // Subscription coupons and their promotion codes (issue 20).
    ("/api/admin/coupons", "subscriptions"),
    // Each service's audit log (`platform::audit`); `/api/admin/audit` itself merges them (crate::audit).
    ("/api/admin/audit/billing", "billing"),
    ("/api/admin/audit/subscriptions", "subscriptions"),
    ("/api/admin/audit/marketplace", "marketplace"),
    ("/api/admin/audit/rewards", "rewards"),
    ("/api/admin/audit/licensing", "licensing"),
    // Outgoing webhooks (issue 23): endpoints, delivery log, replay; and its own audit log.
    ("/api/admin/webhooks", "webhooks"),
    ("/api/admin/audit/webhooks", "webhooks"),
];

/// Every service the gateway forwards to, once each.
pub fn services() -> Vec<&'static str> {
    let mut services: Vec<&'static str> = PREFIXES.iter().map(|(_, service)| *service).collect();
    services.sort_unstable();
    services.dedup();
    services
}

/// Routes the gateway answers itself from every service's part (`crate::export`), as
/// (method, actix pattern); `/api/admin/audit` (`crate::audit`) is the other one.
pub const OWN: &[(&str, &str)] = &[("GET", platform::privacy::ME_PATH), ("GET", platform::privacy::ADMIN_PATH)];

/// The services with an audit log, in the merged log's tie-break order (by name).
pub const AUDITED_SERVICES: &[&str] = &["billing", "licensing", "marketplace", "rewards", "subscriptions", "webhooks"];

/// Routes that need no token (a token, when sent, is still verified). `*` matches one segment.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/api/courses/list"),
    ("GET", "/api/courses/*"),
    ("GET", "/api/courses/*/reviews"),
    ("GET", "/api/subscriptions/tiers"),
    ("GET", "/api/enterprise/branding"),
    ("GET", "/api/enterprise/licenses/public-key"),
    ("POST", "/api/payments/webhook"),
];

impl RouteTable {
    pub fn from_config(config: &GatewayConfig) -> Result<Self, String> {
        let billing = Upstream::new("billing", &config.billing_url)?;
        let subscriptions = Upstream::new("subscriptions", &config.subscriptions_url)?;
        let marketplace = Upstream::new("marketplace", &config.marketplace_url)?;
        let rewards = Upstream::new("rewards", &config.rewards_url)?;
        let licensing = Upstream::new("licensing", &config.licensing_url)?;
        let webhooks = Upstream::new("webhooks", &config.webhooks_url)?;
        let mut routes: Vec<(&'static str, Upstream)> = PREFIXES
            .iter()
            .map(|(prefix, service)| {
                let upstream = match *service {
                    "billing" => &billing,
                    "subscriptions" => &subscriptions,
                    "marketplace" => &marketplace,
                    "rewards" => &rewards,
                    "webhooks" => &webhooks,
                    _ => &licensing,
                };
                (*prefix, upstream.clone())
            })
            .collect();
        routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(Self { routes })
    }

    /// Each service's upstream, once.
    pub fn upstreams(&self) -> Vec<&Upstream> {
        let mut seen: Vec<&Upstream> = Vec::new();
        for (_, u) in &self.routes {
            if !seen.iter().any(|s| s.service == u.service) {
                seen.push(u);
            }
        }
        seen
    }

    /// The upstream for `path`, matching whole segments (`/api/tokensX` is not `/api/tokens`).
    pub fn upstream(&self, path: &str) -> Option<&Upstream> {
        self.route(path).map(|(_, u)| u)
    }

    /// The matching prefix (a bounded metrics label) and its upstream.
    pub fn route(&self, path: &str) -> Option<(&'static str, &Upstream)> {
        self.routes
            .iter()
            .find(|(prefix, _)| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
            .map(|(p, u)| (*p, u))
    }
}

/// Routes that take large bodies (course packages): they get `GATEWAY_UPLOAD_BODY_LIMIT_BYTES`
/// and `GATEWAY_UPLOAD_TIMEOUT_MS` instead of the small limit and short timeout of every other
/// route. The ingress mirrors this list (k8s/base/gateway/ingress-upload.yaml).
pub const UPLOADS: &[(&str, &str)] = &[("POST", "/api/courses/upload")];

pub fn is_upload(method: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    UPLOADS.iter().any(|(m, pattern)| *m == method && matches(pattern, path))
}

/// Routes whose one request costs a service far more than a usual read (a full-text search,
/// a data export of every service, a report or audit page aggregating many rows): besides the
/// per-user limit they spend from the tighter `GATEWAY_RATE_LIMIT_EXPENSIVE_*` bucket
/// (`rate_limit::Limits::check_expensive`). A prefix matches whole segments; `*` one segment.
pub const EXPENSIVE_PREFIXES: &[&str] = &[
    "/api/admin/reports",
    "/api/instructors/me/reports",
    "/api/admin/audit",
    platform::privacy::ME_PATH,
    "/api/admin/users/*/export",
];

/// Whether `method path?query` is one of [`EXPENSIVE_PREFIXES`], or a catalogue search (the
/// catalogue listing with a non-empty `q`: PostgreSQL full-text ranking; browsing without `q`
/// is an index scan and stays cheap).
pub fn is_expensive(method: &str, path: &str, query: &str) -> bool {
    if method != "GET" {
        return false;
    }
    let path = path.trim_end_matches('/');
    let under = |prefix: &str| {
        let depth = prefix.split('/').count();
        let head: Vec<&str> = path.split('/').take(depth).collect();
        path.split('/').count() >= depth && matches(prefix, &head.join("/"))
    };
    if EXPENSIVE_PREFIXES.iter().any(|prefix| under(prefix)) {
        return true;
    }
    path == "/api/courses/list"
        && form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "q" && !v.trim().is_empty())
}

/// Paths a public pattern above would match but that need a signed-in caller.
const NOT_PUBLIC: &[(&str, &str)] = &[("GET", "/api/courses/mine"), ("GET", "/api/courses/promotion-codes")];

/// The service owning `path` (longest prefix, whole segments), without any upstream URL.
pub fn service_for(path: &str) -> Option<&'static str> {
    PREFIXES
        .iter()
        .filter(|(prefix, _)| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, service)| *service)
}

pub fn is_public(method: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let listed = |list: &[(&str, &str)]| list.iter().any(|(m, pattern)| *m == method && matches(pattern, path));
    listed(PUBLIC) && !listed(NOT_PUBLIC)
}

fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_exports_reports_and_audit_reads_are_expensive() {
        for (path, query) in [
            ("/api/courses/list", "q=rust"),
            ("/api/courses/list", "limit=5&q=rust%20async"),
            ("/api/admin/reports/payments", ""),
            ("/api/admin/reports/marketplace/top-courses", "format=csv"),
            ("/api/instructors/me/reports/sales", ""),
            ("/api/admin/audit", ""),
            ("/api/admin/audit/billing", "limit=100"),
            ("/api/me/export", ""),
            ("/api/admin/users/0192f0c4-0000-7000-8000-000000000000/export", ""),
        ] {
            assert!(is_expensive("GET", path, query), "{path}?{query}");
        }
        for (method, path, query) in [
            ("GET", "/api/courses/list", ""),
            ("GET", "/api/courses/list", "q=&limit=5"),
            ("GET", "/api/courses/list", "category=programming"),
            ("GET", "/api/tokens/balance", ""),
            ("GET", "/api/admin/reportsX", ""),
            ("GET", "/api/admin/users/0192f0c4-0000-7000-8000-000000000000/erase", ""),
            ("POST", "/api/admin/reports/payments", ""),
            ("GET", "/api/me", ""),
        ] {
            assert!(!is_expensive(method, path, query), "{method} {path}?{query}");
        }
    }

    #[test]
    fn public_patterns_match_whole_segments() {
        assert!(is_public("GET", "/api/courses/list"));
        assert!(is_public("GET", "/api/courses/123/reviews"));
        assert!(!is_public("POST", "/api/courses/123/reviews"));
        assert!(!is_public("GET", "/api/courses/123/reviews/9"));
        assert!(is_public("POST", "/api/payments/webhook"));
        assert!(!is_public("GET", "/api/payments/history"));
        assert!(!is_public("GET", "/api/tokens/balance"));
        assert!(is_public("GET", "/api/courses/0192f0c4-0000-7000-8000-000000000000"));
        assert!(!is_public("GET", "/api/courses/mine"), "the caller's own courses need a token");
        assert!(!is_public("GET", "/api/courses/promotion-codes"), "the codes an admin or instructor manages");
    }

    #[test]
    fn each_admin_report_goes_to_the_service_that_owns_its_facts_and_needs_a_token() {
        for (path, service) in [
            ("/api/admin/reports/subscriptions", "subscriptions"),
            ("/api/admin/reports/payments", "billing"),
            ("/api/admin/reports/payments/tax", "billing"),
            ("/api/admin/reports/marketplace", "marketplace"),
            ("/api/admin/reports/marketplace/payouts", "marketplace"),
            ("/api/admin/reports/marketplace/top-courses", "marketplace"),
            ("/api/instructors/me/reports/sales", "marketplace"),
            ("/api/admin/reports/rewards", "rewards"),
            ("/api/admin/reports/rewards/liability", "rewards"),
            ("/api/admin/reports/licensing", "licensing"),
            ("/api/admin/reports/licensing/renewals", "licensing"),
        ] {
            assert_eq!(service_for(path), Some(service), "{path}");
            assert!(!is_public("GET", path), "{path}");
        }
        assert_eq!(service_for("/api/admin/reports"), None);
        assert_eq!(service_for("/api/admin/reports/marketplacex"), None);
    }

    #[test]
    fn tax_rates_are_billing_s_and_need_a_token() {
        for path in ["/api/admin/tax-rates", "/api/admin/tax-rates/0192f0c4-0000-7000-8000-000000000000/deactivate"] {
            assert_eq!(service_for(path), Some("billing"), "{path}");
            assert!(!is_public("POST", path) && !is_public("GET", path), "{path}");
        }
    }

    #[test]
    fn coupons_go_to_subscriptions_and_need_a_token() {
        for path in ["/api/admin/coupons", "/api/admin/coupons/0192f0c4-0000-7000-8000-000000000000/promotion-codes"] {
            assert_eq!(service_for(path), Some("subscriptions"), "{path}");
            assert!(!is_public("POST", path) && !is_public("GET", path), "{path}");
        }
        assert_eq!(service_for("/api/admin/couponsx"), None);
    }

    #[test]
    fn erasure_requests_go_to_rewards_and_need_a_token() {
        for path in ["/api/admin/users/0192f0c4-0000-7000-8000-000000000000/erasure", "/api/admin/erasures/x"] {
            assert_eq!(service_for(path), Some("rewards"), "{path}");
            assert!(!is_public("POST", path) && !is_public("GET", path), "{path}");
        }
    }

    #[test]
    fn only_the_upload_route_takes_large_bodies() {
        assert!(is_upload("POST", "/api/courses/upload"));
        assert!(!is_upload("PUT", "/api/courses/upload"));
        assert!(!is_upload("POST", "/api/courses/upload/x"));
        assert!(!is_upload("POST", "/api/courses/uploads"));
        assert!(!is_upload("POST", "/api/payments/upload"));
    }

    #[test]
    fn replicas_take_turns_and_each_rotation_lists_every_replica_once() {
        let upstream = Upstream::new("billing", "http://a:1/, http://b:2/base,http://c:3").unwrap();
        let firsts: Vec<String> = (0..6).map(|_| upstream.rotation().next().unwrap().base_url.clone()).collect();
        assert_eq!(
            firsts,
            ["http://a:1", "http://b:2/base", "http://c:3", "http://a:1", "http://b:2/base", "http://c:3"]
        );
        let order: Vec<&str> = upstream.rotation().map(|r| r.base_url.as_str()).collect();
        assert_eq!(order, ["http://a:1", "http://b:2/base", "http://c:3"]);
        assert_eq!(upstream.replicas()[1].base_path, "/base");
        assert_eq!(Upstream::new("billing", "http://only:1").unwrap().replicas().len(), 1);
        assert!(Upstream::new("billing", " , ").is_err());
    }
}
