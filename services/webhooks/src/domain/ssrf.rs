//! The SSRF guard's rules: which addresses a webhook may never reach (private, loopback,
//! link-local, unique-local, multicast, unspecified, and the other special-purpose ranges, in v4,
//! v6 and v4-mapped/compatible v6), unless an operator allowed them (`WEBHOOKS_ALLOWED_HOSTS`:
//! host names, addresses and CIDRs; development and tests allow 127.0.0.1).

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is outside the public internet.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            // ::ffff:a.b.c.d and ::a.b.c.d reach the v4 address: judge that one.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18/15
        || a >= 240 // reserved, 240/4
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64, 64:ff9b::/96 reaches v4 space
        || (s[0..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback()) // v4-compatible ::a.b.c.d
        || s[0] == 0x2002 // 6to4 embeds a v4 address
}

/// What an operator allowed despite the rules: host names (exact, case-insensitive) and
/// addresses or CIDRs.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl Allowlist {
    /// Parse `"127.0.0.1, 10.0.0.0/8, hooks.internal"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut list = Allowlist::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Ok(net) = item.parse::<IpNet>() {
                list.nets.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                list.nets.push(IpNet::from(ip));
            } else if item.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                list.hosts.push(item.to_ascii_lowercase());
            } else {
                return Err(format!("{item:?} is neither a host name, an address nor a CIDR"));
            }
        }
        Ok(list)
    }

    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.nets.iter().any(|n| n.contains(&ip) || mapped.is_some_and(|m| n.contains(&m)))
    }

    /// Whether a request to `host` (as written in the URL) resolved to `ip` may go out.
    pub fn permits(&self, host: &str, ip: IpAddr) -> bool {
        !is_forbidden(ip) || self.allows_host(host) || self.allows_ip(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_every_non_public_range() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(is_forbidden(ip(a)), "{a} must be refused");
        }
    }

    #[test]
    fn lets_public_addresses_through() {
        for a in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_forbidden(ip(a)), "{a} is public");
        }
    }

    #[test]
    fn allowlist_takes_addresses_cidrs_and_hosts() {
        let list = Allowlist::parse("127.0.0.1, 10.0.0.0/8, Hooks.Internal").unwrap();
        assert!(list.permits("x", ip("127.0.0.1")));
        assert!(list.permits("x", ip("::ffff:127.0.0.1")));
        assert!(list.permits("x", ip("10.9.9.9")));
        assert!(list.permits("hooks.internal", ip("192.168.0.1")));
        assert!(!list.permits("x", ip("127.0.0.2")));
        assert!(!list.permits("x", ip("192.168.0.1")));
        assert!(!Allowlist::default().permits("localhost", ip("127.0.0.1")));
        assert!(Allowlist::parse("a b").is_err());
    }
}
