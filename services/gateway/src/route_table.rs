//! Which service answers which path, and which paths need no token.

use crate::config::GatewayConfig;

#[derive(Debug, Clone)]
pub struct Upstream {
    /// The service name: the internal token's audience.
    pub service: &'static str,
    pub base_url: String,
    /// The path part of `base_url` without its trailing slash (usually empty): every forwarded
    /// URL's path is exactly this followed by the request's path.
    pub base_path: String,
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
];

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
    pub fn from_config(config: &GatewayConfig) -> Self {
        let url_of = |service: &str| match service {
            "billing" => config.billing_url.clone(),
            "subscriptions" => config.subscriptions_url.clone(),
            "marketplace" => config.marketplace_url.clone(),
            "rewards" => config.rewards_url.clone(),
            _ => config.licensing_url.clone(),
        };
        let mut routes: Vec<(&'static str, Upstream)> = PREFIXES
            .iter()
            .map(|(prefix, service)| {
                let service: &'static str = service;
                let base_url = url_of(service).trim_end_matches('/').to_string();
                let base_path = reqwest::Url::parse(&base_url)
                    .map(|u| u.path().trim_end_matches('/').to_string())
                    .unwrap_or_default();
                (*prefix, Upstream { service, base_url, base_path })
            })
            .collect();
        routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Self { routes }
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

/// Paths a public pattern above would match but that need a signed-in caller.
const NOT_PUBLIC: &[(&str, &str)] = &[("GET", "/api/courses/mine")];

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
    }

    #[test]
    fn each_admin_report_goes_to_the_service_that_owns_its_facts_and_needs_a_token() {
        for (path, service) in [
            ("/api/admin/reports/subscriptions", "subscriptions"),
            ("/api/admin/reports/payments", "billing"),
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
    fn only_the_upload_route_takes_large_bodies() {
        assert!(is_upload("POST", "/api/courses/upload"));
        assert!(!is_upload("PUT", "/api/courses/upload"));
        assert!(!is_upload("POST", "/api/courses/upload/x"));
        assert!(!is_upload("POST", "/api/courses/uploads"));
        assert!(!is_upload("POST", "/api/payments/upload"));
    }
}
