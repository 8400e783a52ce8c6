//! DNS TXT lookups, for proving that an organisation controls a custom domain.
//!
//! Why DNS TXT and not an HTTP well-known file: a TXT record is what the owner of a domain can
//! publish before anything serves it (the white-labelled app is not up on the domain yet), and a
//! lookup only talks to DNS servers, whereas fetching `http://<claimed domain>/...` from inside the
//! cluster would let an org admin point the service at internal hosts (SSRF).
//!
//! [`TxtResolver`] is the seam: production uses [`DnsTxtResolver`] (hickory-resolver over the
//! system's resolv.conf or `LICENSING_DNS_NAMESERVERS`); tests point the same resolver at a
//! [`StaticDnsServer`], a real UDP DNS server answering from a map.

use futures_util::future::BoxFuture;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The resolver could not get an answer (timeout, SERVFAIL, no nameserver reachable): the
    /// caller may try again later.
    #[error("DNS lookup failed: {0}")]
    Unavailable(String),
}

/// TXT lookups. An absent name (NXDOMAIN) or a name without TXT records is `Ok(vec![])`.
pub trait TxtResolver: Send + Sync {
    /// The TXT values of `name`, each record's character-strings joined.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>>;
}

/// hickory-resolver, without a cache: a verification must see a record published a moment ago,
/// and is rare enough that a lookup each time costs nothing.
pub struct DnsTxtResolver {
    resolver: TokioResolver,
}

impl DnsTxtResolver {
    /// `nameservers`: comma-separated `ip:port` (or `ip`, port 53); `None` or empty = the system's
    /// resolv.conf.
    pub fn new(nameservers: Option<&str>) -> Result<Self, String> {
        let servers = parse_nameservers(nameservers.unwrap_or(""))?;
        let mut builder = if servers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|e| format!("LICENSING_DNS_NAMESERVERS unset and no resolv.conf: {e}"))?
        } else {
            let config = ResolverConfig::from_name_servers(
                servers
                    .iter()
                    .map(|addr| {
                        let mut udp = ConnectionConfig::udp();
                        udp.port = addr.port();
                        let mut tcp = ConnectionConfig::tcp();
                        tcp.port = addr.port();
                        NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                    })
                    .collect(),
            );
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.cache_size = 0;
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 1;
        // Claimed names are absolute; never try them under a search domain of the cluster.
        opts.ndots = 0;
        let resolver = builder.build().map_err(|e| format!("DNS resolver: {e}"))?;
        Ok(Self { resolver })
    }
}

impl TxtResolver for DnsTxtResolver {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
        Box::pin(async move {
            let fqdn = format!("{}.", name.trim_end_matches('.'));
            match self.resolver.txt_lookup(fqdn).await {
                Ok(lookup) => Ok(lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::TXT(txt) => {
                            Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                        }
                        _ => None,
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
                Err(e) => Err(DnsError::Unavailable(e.to_string())),
            }
        })
    }
}

fn parse_nameservers(raw: &str) -> Result<Vec<SocketAddr>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| format!("LICENSING_DNS_NAMESERVERS: {s:?} is not ip[:port]"))
        })
        .collect()
}

/// A DNS server on 127.0.0.1 (UDP, random port) answering TXT queries from a map that the test
/// changes as it goes, the way a domain owner publishes a record. For tests and local dev only.
pub struct StaticDnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StaticDnsServer {
    pub async fn start() -> std::io::Result<Self> {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let map = records.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
                if let Some(reply) = answer(&map, &buf[..n]) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        Ok(Self { addr, records, task })
    }

    /// Publish `value` as a TXT record of `name` (added to those it has).
    pub fn publish(&self, name: &str, value: &str) {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(mut map) = self.records.lock() {
            map.entry(key).or_default().push(value.to_string());
        }
    }
}

impl StaticDnsServer {
    /// Stop answering (the port closes), as a nameserver outage would.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for StaticDnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(records: &Mutex<HashMap<String, Vec<String>>>, request: &[u8]) -> Option<Vec<u8>> {
    use hickory_resolver::proto::op::{Message, ResponseCode};
    use hickory_resolver::proto::rr::rdata::TXT;
    use hickory_resolver::proto::rr::{Record, RecordType};
    let request = Message::from_vec(request).ok()?;
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    let query = request.queries.first()?.clone();
    let key = query.name().to_string().trim_end_matches('.').to_ascii_lowercase();
    let values = records.lock().ok()?.get(&key).cloned();
    reply.add_query(query.clone());
    match values {
        Some(values) if query.query_type() == RecordType::TXT => {
            for v in values {
                reply.add_answer(Record::from_rdata(query.name().clone(), 0, RData::TXT(TXT::new(vec![v]))));
            }
        }
        Some(_) => {}
        None => reply.metadata.response_code = ResponseCode::NXDomain,
    }
    reply.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lists() {
        assert_eq!(parse_nameservers("").unwrap(), Vec::<SocketAddr>::new());
        assert_eq!(
            parse_nameservers("10.0.0.2, 127.0.0.1:5353").unwrap(),
            vec!["10.0.0.2:53".parse().unwrap(), "127.0.0.1:5353".parse().unwrap()]
        );
        assert!(parse_nameservers("dns.example.com").is_err());
    }
}
