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
        match Connection::connect(url, props).await {
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
