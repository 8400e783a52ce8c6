//! A small in-process cache of answers that may be a few seconds old (public catalogue pages):
//! entries expire after a fixed age, and a full cache is emptied rather than tracked for eviction,
//! which keeps a lookup to one hash probe under a short lock.
//!
//! It can also be invalidated (by this replica, or by others through
//! [`crate::invalidation::Listener`]): a value read from the database before an invalidation is
//! then never stored, since it may predate the change that caused it.
//!
//! [`TtlCache::get_or_load`] loads a missing key once however many requests miss it at the same
//! moment (see there).

use futures_util::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct TtlCache<V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<Entries<V>>,
    /// The loads running now, by key: a request that misses a key being loaded waits for it.
    loads: Mutex<HashMap<String, Load<V>>>,
    metrics: Option<crate::metrics::CacheMetrics>,
}

/// A request that missed a key: it started the load (and will be told its error), or it waits
/// for one already running, holding its own load for when that one fails.
enum Role<E, L> {
    Started(Arc<Mutex<Option<E>>>),
    Waiting(L),
}

/// One running load: the value and when its data was read, or `None` when it failed (the error
/// goes to the request that started it).
type Load<V> = Shared<BoxFuture<'static, Option<(V, Instant)>>>;

struct Entries<V> {
    map: HashMap<String, (Instant, V)>,
    /// The last invalidation: values read before it are refused by `put`.
    invalidated_at: Option<Instant>,
}

impl<V: Clone> TtlCache<V> {
    /// `ttl` zero disables the cache (every `get` misses, `put` keeps nothing).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(Entries { map: HashMap::new(), invalidated_at: None }),
            loads: Mutex::new(HashMap::new()),
            metrics: None,
        }
    }

    /// Count every lookup as a hit or a miss (a disabled cache misses every time).
    pub fn with_metrics(mut self, metrics: crate::metrics::CacheMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let found = if self.ttl.is_zero() {
            None
        } else {
            let entries = self.lock();
            entries.map.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
        };
        if let Some(m) = &self.metrics {
            m.record(found.is_some());
        }
        found
    }

    /// Store `value`, computed from data read no earlier than `read_at`: its age counts from then.
    /// Nothing is stored when the cache was invalidated after `read_at`. Each key lives 75-100% of the TTL, spread by the key's hash: entries filled in the same
    /// second (a cold start) would otherwise all expire, and be read again, in the same instant.
    pub fn put(&self, key: &str, value: V, read_at: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.invalidated_at.is_some_and(|at| read_at < at) {
            return;
        }
        if entries.map.len() >= self.capacity && !entries.map.contains_key(key) {
            entries.map.clear();
        }
        let head_start = self.ttl.mul_f64(0.25 * spread(key));
        entries.map.insert(key.to_string(), (read_at.checked_sub(head_start).unwrap_or(read_at), value));
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V: Clone + Send + Sync + 'static> TtlCache<V> {
    /// The value of `key`: from the cache, or from `load`, stored for the next callers. Requests
    /// that miss a key while it is being loaded wait for that load instead of each running their
    /// own: when a popular entry expires at 5,000 requests a second, the database answers one
    /// query, not every request that arrives before the first answer. Without this, a database
    /// slowed by the first misses makes the next ones slower still and every request ends up on
    /// the database (`make bench`, search: 2.2 ms of CPU per search in two runs of three against
    /// 0.27 in the third).
    ///
    /// A failed load is not shared: the request that ran it gets its error, and each waiting
    /// request runs its own `load` (as it would have without the cache) and stores what it read. A load outlives a
    /// request that gives up on it while others still wait: whoever sees it finish stores it.
    pub async fn get_or_load<E, Fut>(&self, key: &str, load: impl FnOnce() -> Fut) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + 'static,
    {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        if self.ttl.is_zero() {
            return load().await;
        }
        // Either this request starts the load (and is the one told its error), or it joins the
        // running one and keeps its own `load` for when that one fails.
        let (running, role) = {
            let mut loads = self.loads.lock().unwrap_or_else(PoisonError::into_inner);
            match loads.get(key) {
                Some(running) => (running.clone(), Role::Waiting(load)),
                None => {
                    let error: Arc<Mutex<Option<E>>> = Arc::default();
                    let (future, keep_error) = (load(), error.clone());
                    let running: Load<V> = async move {
                        let read_at = Instant::now();
                        match future.await {
                            Ok(value) => Some((value, read_at)),
                            Err(e) => {
                                *keep_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                                None
                            }
                        }
                    }
                    .boxed()
                    .shared();
                    loads.insert(key.to_string(), running.clone());
                    (running, Role::Started(error))
                }
            }
        };
        let outcome = running.clone().await;
        self.finished(key, &running, outcome.as_ref());
        if let Some((value, _)) = outcome {
            return Ok(value);
        }
        match role {
            Role::Started(error) => match error.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(e) => Err(e),
                None => unreachable!("the load this request started failed without an error"),
            },
            // Another request's load failed: this one tries for itself.
            Role::Waiting(load) => {
                let read_at = Instant::now();
                let value = load().await?;
                self.put(key, value.clone(), read_at);
                Ok(value)
            }
        }
    }

    /// The first caller to see `running` finish takes it off the running loads and stores its
    /// value (once: a later load of the key is a different future).
    fn finished(&self, key: &str, running: &Load<V>, outcome: Option<&(V, Instant)>) {
        let mut loads = self.loads.lock().unwrap_or_else(PoisonError::into_inner);
        if !loads.get(key).is_some_and(|current| current.ptr_eq(running)) {
            return;
        }
        loads.remove(key);
        drop(loads);
        if let Some((value, read_at)) = outcome {
            self.put(key, value.clone(), *read_at);
        }
    }
}

impl<V: Clone + Send + Sync> crate::invalidation::Invalidate for TtlCache<V> {
    fn invalidate(&self, key: &str) {
        let mut entries = self.lock();
        entries.invalidated_at = Some(Instant::now());
        entries.map.remove(key);
    }

    fn invalidate_all(&self) {
        let mut entries = self.lock();
        entries.invalidated_at = Some(Instant::now());
        entries.map.clear();
    }
}

/// A stable number in 0..1 for `key` (FNV-1a).
fn spread(key: &str) -> f64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % 1024) as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_full_cache_starts_over() {
        let cache = TtlCache::new(Duration::from_millis(50), 2);
        let now = Instant::now();
        cache.put("a", 1, now);
        cache.put("b", 2, now);
        assert_eq!((cache.get("a"), cache.get("b"), cache.get("c")), (Some(1), Some(2), None));
        cache.put("b", 3, now);
        assert_eq!(cache.get("b"), Some(3), "replacing a key does not empty the cache");
        assert_eq!(cache.get("a"), Some(1));
        cache.put("c", 4, now);
        assert_eq!((cache.get("a"), cache.get("c")), (None, Some(4)), "full: emptied, then stored");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("c"), None, "expired");
        cache.put("old", 5, Instant::now() - Duration::from_millis(60));
        assert_eq!(cache.get("old"), None, "the age counts from the read");
    }

    #[test]
    fn expiries_are_spread_over_the_last_quarter_of_the_ttl() {
        let spreads: Vec<f64> = (0..200).map(|i| spread(&format!("q=topic{i}&category=c{}", i % 12))).collect();
        assert!(spreads.iter().all(|s| (0.0..1.0).contains(s)));
        let (min, max) = spreads.iter().fold((1.0_f64, 0.0_f64), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
        assert!(min < 0.1 && max > 0.9, "spread over the range: {min}..{max}");
        let cache = TtlCache::new(Duration::from_secs(100), 10);
        let now = Instant::now();
        cache.put("k", 1, now);
        let stored = cache.lock().map.get("k").map(|(at, _)| *at).unwrap();
        let head_start = now - stored;
        assert!(head_start <= Duration::from_secs(25), "{head_start:?}");
        assert_eq!(head_start, Duration::from_secs(100).mul_f64(0.25 * spread("k")), "deterministic per key");
    }

    #[tokio::test]
    async fn lookups_are_counted_as_hits_and_misses() {
        let metrics = crate::metrics::Metrics::new();
        let cache = TtlCache::new(Duration::from_secs(10), 10).with_metrics(metrics.cache("test"));
        assert_eq!(cache.get("a"), None);
        cache.put("a", 1, Instant::now());
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("a"), Some(1));
        let text = metrics.render().await;
        assert!(text.contains(r#"monetization_cache_lookups_total{cache="test",result="hit"} 2"#), "{text}");
        assert!(text.contains(r#"monetization_cache_lookups_total{cache="test",result="miss"} 1"#), "{text}");
    }

    #[test]
    fn an_invalidation_drops_entries_and_refuses_values_read_before_it() {
        use crate::invalidation::Invalidate;
        let cache = TtlCache::new(Duration::from_secs(60), 10);
        let before = Instant::now();
        cache.put("a", 1, before);
        cache.put("b", 2, before);
        cache.invalidate("a");
        assert_eq!((cache.get("a"), cache.get("b")), (None, Some(2)));
        cache.put("a", 1, before);
        assert_eq!(cache.get("a"), None, "read before the invalidation: it may predate the change");
        cache.put("a", 3, Instant::now());
        assert_eq!(cache.get("a"), Some(3));
        cache.invalidate_all();
        assert_eq!((cache.get("a"), cache.get("b")), (None, None));
    }

    #[tokio::test]
    async fn misses_of_one_key_at_once_share_one_load() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = TtlCache::new(Duration::from_secs(60), 10);
        let loads = Arc::new(AtomicUsize::new(0));
        let requests = (0..20).map(|_| {
            let loads = loads.clone();
            cache.get_or_load("k", move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok::<_, String>(7)
            })
        });
        let answers = futures_util::future::join_all(requests).await;
        assert!(answers.iter().all(|a| a == &Ok(7)), "{answers:?}");
        assert_eq!(loads.load(Ordering::SeqCst), 1, "twenty misses, one load");
        assert_eq!(cache.get("k"), Some(7), "stored for the next callers");
        assert!(cache.loads.lock().unwrap().is_empty(), "no load left running");
        let other = cache.get_or_load("other", || async { Ok::<_, String>(8) }).await;
        assert_eq!(other, Ok(8), "another key loads on its own");
    }

    #[tokio::test]
    async fn a_failed_load_answers_its_own_request_and_the_others_try_for_themselves() {
        let cache = TtlCache::new(Duration::from_secs(60), 10);
        let failing = cache.get_or_load("k", || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Err::<i32, _>("down".to_string())
        });
        let waiting = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            cache.get_or_load("k", || async { Ok::<_, String>(2) }).await
        };
        let (failed, retried) = futures_util::future::join(failing, waiting).await;
        assert_eq!(failed, Err("down".to_string()));
        assert_eq!(retried, Ok(2), "the waiting request loaded for itself");
        assert_eq!(cache.get("k"), Some(2), "and stored it");
    }

    #[tokio::test]
    async fn a_value_loaded_across_an_invalidation_is_answered_but_not_stored() {
        use crate::invalidation::Invalidate;
        let cache = TtlCache::new(Duration::from_secs(60), 10);
        let loading = cache.get_or_load("k", || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<_, String>(1)
        });
        let invalidating = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            cache.invalidate("k");
        };
        let (answer, ()) = futures_util::future::join(loading, invalidating).await;
        assert_eq!(answer, Ok(1));
        assert_eq!(cache.get("k"), None, "read before the invalidation: it may predate the change");
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = TtlCache::new(Duration::ZERO, 10);
        cache.put("a", 1, Instant::now());
        assert_eq!(cache.get("a"), None);
    }
}
