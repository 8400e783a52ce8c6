//! The SSRF guard at the IO edge (the rules are in `domain::ssrf`): URLs are checked when an
//! endpoint is saved, and again at every delivery by the HTTP client's own resolver, which hands
//! the connector only the addresses it checked, so a name that resolves elsewhere by the time of
//! the delivery (DNS rebinding) reaches nothing forbidden. Redirects are never followed.

use crate::domain::ssrf::Allowlist;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A URL a webhook may target: `http(s)`, a host, no credentials, no fragment.
pub fn parse_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|_| "must be an absolute http(s) URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

/// The address of an IP-literal host (`[::1]` without its brackets).
fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Refuse `url` when it names, or resolves to, an address the allowlist does not permit.
pub async fn check(allow: &Allowlist, url: &reqwest::Url) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default().to_string();
    if let Some(ip) = literal_ip(url) {
        return refuse_unless(allow, &host, ip);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), port)))
            .await
            .map_err(|_| format!("{host} did not resolve in time"))?
            .map_err(|_| format!("{host} does not resolve"))?
            .collect();
    if addrs.is_empty() {
        return Err(format!("{host} does not resolve"));
    }
    // Every address: a client connecting would try them all.
    for a in addrs {
        refuse_unless(allow, &host, a.ip())?;
    }
    Ok(())
}

fn refuse_unless(allow: &Allowlist, host: &str, ip: IpAddr) -> Result<(), String> {
    if allow.permits(host, ip) {
        Ok(())
    } else {
        Err(format!("{host} is a private, loopback, link-local or otherwise non-public address ({ip}): refused"))
    }
}

/// The delivery check of an IP-literal URL (the resolver below is not asked for those).
pub fn check_literal(allow: &Allowlist, url: &reqwest::Url) -> Result<(), String> {
    match literal_ip(url) {
        Some(ip) => refuse_unless(allow, url.host_str().unwrap_or_default(), ip),
        None => Ok(()),
    }
}

/// reqwest's resolver for deliveries: resolves, drops what is forbidden, fails when nothing is left.
struct GuardedResolver {
    allow: Arc<Allowlist>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found.iter().copied().filter(|a| allow.permits(&host, a.ip())).collect();
            if permitted.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("{host} does not resolve").into()
                } else {
                    format!("{host} resolves only to non-public addresses: refused (SSRF guard)").into()
                };
                return Err(err);
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

/// The delivery client: guarded resolver, no redirects, no proxy, the attempt's deadline.
pub fn client(allow: Arc<Allowlist>, timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .dns_resolver(GuardedResolver { allow })
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent("monetization-webhooks/1")
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("https://hooks.example.com/x?y=1").is_ok());
        for bad in ["ftp://x/", "/relative", "https://u:p@x/", "https://x/#f", "not a url", "file:///etc/passwd"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn literals_and_names_are_checked() {
        let none = Allowlist::default();
        let local = Allowlist::parse("127.0.0.1").unwrap();
        let u = parse_url("http://127.0.0.1:9/").unwrap();
        assert!(check(&none, &u).await.is_err());
        assert!(check(&local, &u).await.is_ok());
        assert!(check(&none, &parse_url("http://[::ffff:127.0.0.1]/").unwrap()).await.is_err());
        assert!(check(&none, &parse_url("http://169.254.169.254/latest").unwrap()).await.is_err());
        // A name resolving to loopback is refused like the literal.
        assert!(check(&none, &parse_url("http://localhost/").unwrap()).await.is_err());
    }
}
