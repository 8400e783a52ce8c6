//! Running an actix app with the platform's middleware and graceful shutdown.

use std::net::TcpListener;

/// How long in-flight requests get to finish after SIGTERM (the k8s preStop delay fits inside).
pub const SHUTDOWN_GRACE_SECS: u64 = 20;

/// Bind `host:port` (port 0 = any free port, for tests).
pub fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((host, port))
}

/// Resolve when the process is asked to stop (SIGTERM or Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
