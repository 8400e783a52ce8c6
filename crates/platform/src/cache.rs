//! A small in-process cache of answers that may be a few seconds old (public catalogue pages):
//! entries expire after a fixed age, and a full cache is emptied rather than tracked for eviction,
//! which keeps a lookup to one hash probe under a short lock.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct TtlCache<V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    /// `ttl` zero disables the cache (every `get` misses, `put` keeps nothing).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ttl, capacity, entries: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    /// Store `value`, computed from data read no earlier than `read_at`: its age counts from then.
    pub fn put(&self, key: &str, value: V, read_at: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_string(), (read_at, value));
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }
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
    fn a_zero_ttl_keeps_nothing() {
        let cache = TtlCache::new(Duration::ZERO, 10);
        cache.put("a", 1, Instant::now());
        assert_eq!(cache.get("a"), None);
    }
}
