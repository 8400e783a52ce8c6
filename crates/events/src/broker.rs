//! Connecting to RabbitMQ, with backoff, and a shared flag readiness reads.

use lapin::{Connection, ConnectionProperties};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Whether the relay and consumer currently hold a live broker connection.
#[derive(Clone, Default)]
pub struct BrokerStatus(Arc<AtomicBool>);

impl BrokerStatus {
    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// A readiness probe for `platform::health`.
    pub fn probe(&self) -> platform::health::Probe {
        let status = self.clone();
        Arc::new(move || {
            let up = status.is_up();
            Box::pin(async move {
                if up {
                    Ok(())
                } else {
                    Err("broker connection down".to_string())
                }
            })
        })
    }
}

/// Stop signal shared by background tasks: `true` means finish up and exit.
pub type Shutdown = watch::Receiver<bool>;

/// Connect, retrying with capped exponential backoff until connected or shut down.
pub async fn connect_with_backoff(url: &str, name: &str, shutdown: &mut Shutdown) -> Option<Connection> {
    let mut delay = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return None;
        }
        let props = ConnectionProperties::default().with_connection_name(name.into());
        match connect(url, props).await {
            Ok(conn) => return Some(conn),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "{name}: broker unreachable");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// How long a connection attempt may take, handshake included. lapin has no bound of its own: a
/// broker that accepts the TCP connection and never answers the AMQP handshake (one going down,
/// or out of file descriptors) would hold a relay or a consumer in `connect` for good, never to
/// retry once the broker is healthy again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connect to the broker at `url`, within [`CONNECT_TIMEOUT`]. `amqps://` URLs use TLS (rustls);
/// their `cacertfile=<PEM file>` parameter (RabbitMQ's URI parameter name; `<SVC>_AMQP_CA_FILE`
/// sets it) names the CA(s) the broker's certificate must chain to, on top of the system's trust
/// store. The certificate must be issued for the URL's host.
pub async fn connect(url: &str, props: ConnectionProperties) -> lapin::Result<Connection> {
    connect_within(url, props, CONNECT_TIMEOUT).await
}

async fn connect_within(url: &str, props: ConnectionProperties, limit: Duration) -> lapin::Result<Connection> {
    match tokio::time::timeout(limit, connect_unbounded(url, props)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the broker did not complete the AMQP handshake within {limit:?}"),
        )
        .into()),
    }
}

async fn connect_unbounded(url: &str, props: ConnectionProperties) -> lapin::Result<Connection> {
    let (url, ca_file) = split_ca_file(url);
    let Some(path) = ca_file else {
        return Connection::connect(&url, props).await;
    };
    if !url.starts_with("amqps://") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "cacertfile is set but the broker URL is not amqps://: the CA would never be used",
        )
        .into());
    }
    let pem = tokio::fs::read_to_string(&path).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot read the broker's CA file (cacertfile) {path:?}: {e}"))
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the broker's CA file (cacertfile) {path:?} holds no PEM certificate"),
        )
        .into());
    }
    let tls = lapin::tcp::OwnedTLSConfig { identity: None, cert_chain: Some(pem) };
    Connection::connect_with_config(&url, props, tls, lapin::runtime::default_runtime()?).await
}

/// The URL without its `cacertfile` parameter, and that parameter's (decoded) value.
fn split_ca_file(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut ca = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("cacertfile", value)) => {
                ca = url_decode(value);
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    (url, ca)
}

fn url_decode(value: &str) -> Option<String> {
    form_urlencoded::parse(format!("v={value}").as_bytes()).map(|(_, v)| v.into_owned()).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that accepts TCP and never speaks AMQP: the attempt fails in time instead of
    /// waiting for ever, so the caller's backoff loop tries again.
    #[tokio::test]
    async fn a_broker_that_never_answers_the_handshake_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("amqp://guest:guest@{}/%2f", listener.local_addr().unwrap());
        let accepted = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let started = std::time::Instant::now();
        let err = connect_within(&url, ConnectionProperties::default(), Duration::from_millis(300)).await.err();
        let err = err.expect("a silent peer is no broker");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        assert!(err.to_string().contains("AMQP handshake"), "{err}");
        accepted.abort();
    }

    #[test]
    fn the_ca_file_parameter_leaves_the_url() {
        let (url, ca) = split_ca_file("amqps://u:p@mq:5671/%2f?heartbeat=10&cacertfile=%2Fetc%2Fca.crt");
        assert_eq!((url.as_str(), ca.as_deref()), ("amqps://u:p@mq:5671/%2f?heartbeat=10", Some("/etc/ca.crt")));
        let (url, ca) = split_ca_file("amqps://mq/?cacertfile=/ca.pem");
        assert_eq!((url.as_str(), ca.as_deref()), ("amqps://mq/", Some("/ca.pem")));
        let (url, ca) = split_ca_file("amqp://mq/%2f");
        assert_eq!((url.as_str(), ca), ("amqp://mq/%2f", None));
    }
}
