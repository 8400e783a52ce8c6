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
//! Each replica runs one [`Listener`] on a dedicated connection (outside the pool, see
//! [`crate::listen`]). Notifications sent while it is not listening are lost, so every cache is
//! emptied whenever the listener (re)starts listening and, while it cannot, again at every retry:
//! the staleness bound during a listener outage is [`crate::listen::RETRY`], not the caches' TTL.

use crate::db::Pool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// A cache other replicas' changes reach.
pub trait Invalidate: Send + Sync {
    /// The entry `key` may have changed.
    fn invalidate(&self, key: &str);
    /// Any entry may have changed (a whole-cache notification, or notifications were missed).
    fn invalidate_all(&self);
}

/// The channel of a schema's cache notifications.
pub fn channel(schema: &str) -> String {
    crate::listen::channel(CHANNEL_PREFIX, schema)
}

const CHANNEL_PREFIX: &str = "cache";

/// Listens to the service's cache channel and invalidates the caches named in notifications.
pub struct Listener {
    pool: Pool,
    caches: HashMap<&'static str, Arc<dyn Invalidate>>,
    metrics: Option<ListenerMetrics>,
}

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
                "Failures of the cache invalidation listener's connection or of an attempt to reconnect (each empties the caches)",
                &[],
            ),
        });
        self
    }

    pub fn spawn(self, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let pool = self.pool.clone();
        crate::listen::spawn(pool, CHANNEL_PREFIX, Arc::new(self), shutdown)
    }

    fn invalidate_everything(&self) {
        for cache in self.caches.values() {
            cache.invalidate_all();
        }
    }
}

impl crate::listen::Subscriber for Listener {
    fn listening(&self) {
        // Changes committed while nobody listened were not heard: start from empty caches.
        self.invalidate_everything();
        if let Some(m) = &self.metrics {
            m.connected.set(&[], 1.0);
        }
    }

    fn notified(&self, payload: &str) {
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

    fn lost(&self, error: &str) {
        tracing::warn!(error, "cache invalidation listener failed: emptying caches, reconnecting");
        if let Some(m) = &self.metrics {
            m.connected.set(&[], 0.0);
            m.reconnects.inc(&[]);
        }
        self.invalidate_everything();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::Subscriber;
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
        let pool = crate::db::Pool::single(1, |_| bb8::Pool::builder().build_unchecked(manager));
        let features = Arc::new(Recorder::default());
        let tiers = Arc::new(Recorder::default());
        let listener = Listener::new(pool).cache("features", features.clone()).cache("tiers", tiers.clone());
        listener.notified("features:8f1c");
        listener.notified("features:a:b");
        listener.notified("tiers");
        listener.notified("unknown:x");
        assert_eq!(*features.0.lock().unwrap(), ["8f1c", "a:b"]);
        assert_eq!(*tiers.0.lock().unwrap(), ["*"]);
    }
}
