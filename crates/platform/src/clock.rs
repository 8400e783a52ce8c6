//! The time a service believes it is. Everything time-dependent (renewals, dunning, expiries, SLA
//! timers, the daily cap's day, the weekly board's ISO week) reads it from a [`Clock`], so tests
//! move time instead of waiting for it.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// How services hold their clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests). Clones share one time, so a test keeps a clone
/// and hands another to the service.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_its_time() {
        let at = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").map(|t| t.with_timezone(&Utc));
        let at = at.unwrap_or_else(|_| Utc::now());
        let clock = ManualClock::new(at);
        let seen_by_service: SharedClock = Arc::new(clock.clone());
        clock.advance(Duration::days(1));
        assert_eq!(seen_by_service.now(), at + Duration::days(1));
        clock.set(at);
        assert_eq!(seen_by_service.now(), at);
    }
}
