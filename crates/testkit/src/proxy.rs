//! A TCP forwarder a test can cut and restore, to give one client (a service's database pool, say)
//! a real outage of a shared server without stopping the server, which other tests use.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpProxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Bumped on every cut: open connections watch it and drop both ends.
    generation: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listen on a random local port and forward every connection to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accept = tokio::spawn(accept_loop(listener, target, cut.clone(), generation.clone()));
        Self { addr, cut, generation, accept }
    }

    /// Forward to the host and port of a `postgres://` or `amqp://` URL.
    pub async fn for_url(url: &str) -> Self {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let host_port = rest.split(['/', '?']).next().unwrap_or(rest);
        let host_port = host_port.rsplit_once('@').map(|(_, h)| h).unwrap_or(host_port);
        let target = tokio::net::lookup_host(host_port).await.expect("resolve target").next().expect("an address");
        Self::start(target).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (userinfo, after) = match rest.rsplit_once('@') {
            Some((u, a)) => (format!("{u}@"), a),
            None => (String::new(), rest),
        };
        let path_at = after.find(['/', '?']).unwrap_or(after.len());
        format!("{scheme}://{userinfo}{}{}", self.addr, &after[path_at..])
    }

    /// The outage: every open connection is dropped and new ones are closed at once.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// The end of the outage: new connections are forwarded again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, cut: Arc<AtomicBool>, generation: watch::Sender<u64>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        if cut.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let mut cut_signal = generation.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(target).await else { return };
            let mut client = client;
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cut_signal.changed() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rewrites_urls() {
        let p = TcpProxy::start("127.0.0.1:9".parse().unwrap()).await;
        let port = p.addr().port();
        assert_eq!(
            p.url("postgres://postgres@127.0.0.1:5432/postgres"),
            format!("postgres://postgres@127.0.0.1:{port}/postgres")
        );
        assert_eq!(p.url("amqp://guest:guest@localhost:5672/%2f"), format!("amqp://guest:guest@127.0.0.1:{port}/%2f"));
        assert_eq!(p.url("postgres://db:5432?x=1"), format!("postgres://127.0.0.1:{port}?x=1"));
    }
}
