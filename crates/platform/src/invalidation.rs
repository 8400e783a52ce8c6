//! Cross-replica cache invalidation over PostgreSQL `LISTEN/NOTIFY`.
//!
//! Every replica of a service keeps its own in-process caches. A change committed by any replica
//! (or by an operator's SQL) must reach all of them, so the notification is sent by the database:
//! triggers on the tables a cache is computed from call `cache_notify(cache [, key column])` (see
//! the platform migration `cache_notify`), which sends `NOTIFY cache_<schema>, '<cache>:<key>'`
//! (or `'<cache>'` for "everything in that cache"). PostgreSQL delivers it when the transaction
//! commits and never for one rolled back, so no write path can forget it and no reader is told
//! before the change is visible.
//!
//! Each replica runs one [`Listener`] on a dedicated connection (outside the pool). Notifications
//! sent while it is not listening are lost, so every cache is emptied whenever the listener
//! (re)starts listening and, while it cannot, again at every retry: the staleness bound during a
//! listener outage is the retry interval, not the caches' TTL.

use crate::db::Pool;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A cache other replicas' changes reach.
pub trait Invalidate: Send + Sync {
    /// The entry `key` may have changed.
    fn invalidate(&self, key: &str);
    /// Any entry may have changed (a whole-cache notification, or notifications were missed).
    fn invalidate_all(&self);
}

/// How long a quiet listener waits before proving its connection is alive: a connection cut
/// without a FIN (a network partition) is noticed within this plus [`PING_TIMEOUT`].
const LISTENER_CHECK: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Between reconnection attempts; the caches are emptied at each, so this bounds staleness while
/// the listener is down.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The channel of a schema's cache notifications (channels are per database, schemas share one).
pub fn channel(schema: &str) -> String {
    format!("cache_{schema}")
}

/// Listens to the service's cache channel and invalidates the caches named in notifications.
pub struct Listener {
    pool: Pool,
    caches: HashMap<&'static str, Arc<dyn Invalidate>>,
    metrics: Option<ListenerMetrics>,
}

#[derive(Clone)]
struct ListenerMetrics {
    invalidations: crate::metrics::CounterVec,
    connected: crate::metrics::GaugeVec,
    reconnects: crate::metrics::CounterVec,
}

impl Listener {
    /// `pool` is the service's pool: the listener takes a dedicated connection with the same
    /// settings (URL, schema), never one of the pool's.
    pub fn new(pool: Pool) -> Self {
        Self { pool, caches: HashMap::new(), metrics: None }
    }

    /// Route notifications naming `name` (the first argument of the tables' `cache_notify`
    /// triggers) to `cache`.
    pub fn cache(mut self, name: &'static str, cache: Arc<dyn Invalidate>) -> Self {
        self.caches.insert(name, cache);
        self
    }

    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = Some(ListenerMetrics {
            invalidations: metrics.counter(
                "monetization_cache_invalidations",
                "Invalidations received from the database, by cache and scope (key, all)",
                &["cache", "scope"],
            ),
            connected: metrics.gauge(
                "monetization_cache_listener_connected",
                "1 while the cache invalidation listener is listening",
                &[],
            ),
            reconnects: metrics.counter(
                "monetization_cache_listener_reconnects",
                "Times the cache invalidation listener lost its connection (caches were emptied)",
                &[],
            ),
        });
        self
    }

    pub fn spawn(self, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.listen_until_failure(&mut shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cache invalidation listener failed: emptying caches, reconnecting")
                }
            }
            if let Some(m) = &self.metrics {
                m.connected.set(&[], 0.0);
                m.reconnects.inc(&[]);
            }
            self.invalidate_everything();
            tokio::select! {
                _ = tokio::time::sleep(RETRY_INTERVAL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    fn invalidate_everything(&self) {
        for cache in self.caches.values() {
            cache.invalidate_all();
        }
    }

    /// Returns `Ok` on shutdown, `Err` when the connection failed.
    async fn listen_until_failure(&self, shutdown: &mut watch::Receiver<bool>) -> Result<(), String> {
        let mut conn = self.pool.dedicated_connection().await.map_err(|e| e.to_string())?;
        let CurrentSchema { schema } = diesel::sql_query("SELECT current_schema() AS schema")
            .get_result(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        // The schema name was checked to be a plain identifier when the pool was built. The
        // session is named after the channel, so an operator can find it in pg_stat_activity.
        let channel = channel(&schema);
        conn.batch_execute(&format!("SET application_name = '{channel}'; LISTEN {channel}"))
            .await
            .map_err(|e| e.to_string())?;
        // Changes committed while nobody listened were not heard: start from empty caches.
        self.invalidate_everything();
        if let Some(m) = &self.metrics {
            m.connected.set(&[], 1.0);
        }
        loop {
            let next = {
                let mut notifications = std::pin::pin!(conn.notifications_stream());
                tokio::select! {
                    n = notifications.next() => Some(n),
                    _ = tokio::time::sleep(LISTENER_CHECK) => None,
                    _ = shutdown.changed() => return Ok(()),
                }
            };
            match next {
                Some(Some(Ok(n))) => self.dispatch(&n.payload),
                Some(Some(Err(e))) => return Err(e.to_string()),
                Some(None) => return Err("notification stream ended".into()),
                None => {
                    let ping = diesel::sql_query("SELECT 1").execute(&mut conn);
                    match tokio::time::timeout(PING_TIMEOUT, ping).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(e.to_string()),
                        Err(_) => return Err("the connection stopped answering".into()),
                    }
                }
            }
        }
    }

    fn dispatch(&self, payload: &str) {
        let (name, key) = match payload.split_once(':') {
            Some((name, key)) => (name, Some(key)),
            None => (payload, None),
        };
        let Some((name, cache)) = self.caches.get_key_value(name) else {
            tracing::debug!(payload, "cache notification for a cache this replica does not keep");
            return;
        };
        match key {
            Some(key) => cache.invalidate(key),
            None => cache.invalidate_all(),
        }
        if let Some(m) = &self.metrics {
            m.invalidations.inc(&[name, if key.is_some() { "key" } else { "all" }]);
        }
    }
}

#[derive(diesel::QueryableByName)]
struct CurrentSchema {
    #[diesel(sql_type = diesel::sql_types::Text)]
    schema: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Invalidate for Recorder {
        fn invalidate(&self, key: &str) {
            self.0.lock().unwrap().push(key.to_string());
        }
        fn invalidate_all(&self) {
            self.0.lock().unwrap().push("*".to_string());
        }
    }

    #[tokio::test]
    async fn payloads_name_the_cache_and_optionally_the_key() {
        // The pool is never used by `dispatch`; a lazily connecting one to nowhere is enough.
        let manager =
            diesel_async::pooled_connection::AsyncDieselConnectionManager::<diesel_async::AsyncPgConnection>::new(
                "postgres://nowhere.invalid/db",
            );
        let pool = bb8::Pool::builder().build_unchecked(manager);
        let features = Arc::new(Recorder::default());
        let tiers = Arc::new(Recorder::default());
        let listener = Listener::new(pool).cache("features", features.clone()).cache("tiers", tiers.clone());
        listener.dispatch("features:8f1c");
        listener.dispatch("features:a:b");
        listener.dispatch("tiers");
        listener.dispatch("unknown:x");
        assert_eq!(*features.0.lock().unwrap(), ["8f1c", "a:b"]);
        assert_eq!(*tiers.0.lock().unwrap(), ["*"]);
    }
}
