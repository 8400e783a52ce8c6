//! A small in-process cache of answers that may be a few seconds old (public catalogue pages):
//! entries expire after a fixed age, and a full cache is emptied rather than tracked for eviction,
//! which keeps a lookup to one hash probe under a short lock.
//!
//! It can also be invalidated (by this replica, or by others through
//! [`crate::invalidation::Listener`]): a value read from the database before an invalidation is
//! then never stored, since it may predate the change that caused it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct TtlCache<V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<Entries<V>>,
    metrics: Option<crate::metrics::CacheMetrics>,
}

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

impl<V: Clone + Send> crate::invalidation::Invalidate for TtlCache<V> {
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

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = TtlCache::new(Duration::ZERO, 10);
        cache.put("a", 1, Instant::now());
        assert_eq!(cache.get("a"), None);
    }
}
