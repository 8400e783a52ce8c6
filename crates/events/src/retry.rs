//! When a handler fails transiently, the event waits in a delayed-retry queue and comes back to the
//! service's queue later; the delays grow exponentially up to a cap, and after a horizon the event
//! goes to the DLQ. This module holds the schedule (pure) and the AMQP headers that carry an
//! event's retry state from one attempt to the next.
//!
//! The waiting is done by RabbitMQ, not by the consumer: one quorum queue per distinct delay
//! (`<queue>.retry.<ms>ms`, with that queue-wide `x-message-ttl`), dead-lettering back to the
//! service's queue when the TTL runs out. One TTL per queue (rather than a per-message expiration
//! on one wait queue) because RabbitMQ expires messages only at the head of a queue: a 60 s
//! message at the head would hold back a 1 s one behind it.

use chrono::{DateTime, Utc};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use std::time::Duration;

/// Header: how many times the handler has failed transiently on this event so far.
pub const ATTEMPT_HEADER: &str = "x-retry-attempt";
/// Header: when the handler first failed on this event (ms since the epoch); the horizon counts from it.
pub const FIRST_FAILURE_HEADER: &str = "x-retry-first-failed-at";
/// Header: the last failure's reason (truncated), for operators reading the DLQ.
pub const LAST_ERROR_HEADER: &str = "x-retry-last-error";

/// Longest failure reason kept in a header (headers travel with every copy of the message).
const MAX_ERROR_LEN: usize = 512;
/// More delay tiers than this is a misconfiguration (each tier is a queue).
const MAX_TIERS: usize = 24;

/// The backoff schedule of one service's consumer (`<SVC>_EVENT_RETRY_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Cap of the delay.
    pub max: Duration,
    /// Each further retry waits this many times longer than the one before (until `max`).
    pub multiplier: u32,
    /// After this long since the first failure the event goes to the DLQ.
    pub horizon: Duration,
}

impl Default for RetryPolicy {
    /// 1 s, 2 s, 4 s ... 60 s, for an hour: outlives a database fail-over or restart by far.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2,
            horizon: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// Checked construction: every delay a whole number of milliseconds, at least 1 ms, a bounded
    /// number of distinct delays (each one is a queue).
    pub fn new(initial: Duration, max: Duration, multiplier: u32, horizon: Duration) -> Result<Self, String> {
        let policy = Self { initial, max, multiplier, horizon };
        if initial.as_millis() == 0 {
            return Err("EVENT_RETRY_INITIAL_MS must be at least 1".into());
        }
        if max < initial {
            return Err("EVENT_RETRY_MAX_MS must not be below EVENT_RETRY_INITIAL_MS".into());
        }
        if multiplier == 0 {
            return Err("EVENT_RETRY_MULTIPLIER must be at least 1".into());
        }
        if horizon.is_zero() {
            return Err("EVENT_RETRY_HORIZON_SECS must be at least 1".into());
        }
        if policy.tiers().len() > MAX_TIERS {
            return Err(format!("the retry schedule has more than {MAX_TIERS} distinct delays: raise the multiplier"));
        }
        Ok(policy)
    }

    /// From the service's configuration.
    pub fn from_config(config: &platform::config::ServiceConfig) -> Result<Self, String> {
        Self::new(
            Duration::from_millis(config.event_retry_initial_ms),
            Duration::from_millis(config.event_retry_max_ms),
            config.event_retry_multiplier,
            Duration::from_secs(config.event_retry_horizon_secs),
        )
    }

    /// How long to wait before retry number `attempt` (1 = the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let max = self.max_ms();
        let factor = u64::from(self.multiplier).checked_pow(attempt.saturating_sub(1)).unwrap_or(u64::MAX);
        let delay = (self.initial.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(delay).min(max)
    }

    fn max_ms(&self) -> Duration {
        Duration::from_millis(self.max.as_millis() as u64)
    }

    /// Every distinct delay the schedule uses, shortest first: one retry queue each.
    pub fn tiers(&self) -> Vec<Duration> {
        let mut tiers: Vec<Duration> = Vec::new();
        for attempt in 1.. {
            let d = self.delay(attempt);
            // The cap is reached, or the delay stopped growing (multiplier 1), or too many tiers.
            if tiers.last() == Some(&d) || tiers.len() > MAX_TIERS {
                break;
            }
            tiers.push(d);
        }
        tiers
    }

    /// What to do with an event whose handler just failed transiently, given its retry state.
    pub fn decide(&self, state: &RetryState, now: DateTime<Utc>) -> RetryDecision {
        let first = state.first_failed_at.unwrap_or(now);
        let elapsed = (now - first).to_std().unwrap_or_default();
        if elapsed >= self.horizon {
            return RetryDecision::GiveUp;
        }
        let attempt = state.attempt.saturating_add(1);
        RetryDecision::RetryIn { attempt, delay: self.delay(attempt), first_failed_at: first }
    }
}

/// What the headers of a delivery say about earlier failures (nothing for a fresh event).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryState {
    pub attempt: u32,
    pub first_failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryDecision {
    /// Publish a copy to the retry queue of `delay`.
    RetryIn { attempt: u32, delay: Duration, first_failed_at: DateTime<Utc> },
    /// The horizon has passed: dead-letter it.
    GiveUp,
}

impl RetryState {
    pub fn from_headers(headers: Option<&FieldTable>) -> Self {
        let Some(h) = headers.map(FieldTable::inner) else {
            return Self::default();
        };
        let attempt = h.get(ATTEMPT_HEADER).and_then(as_i64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let first_failed_at = h.get(FIRST_FAILURE_HEADER).and_then(as_i64).and_then(DateTime::from_timestamp_millis);
        Self { attempt, first_failed_at }
    }
}

/// Headers for the next copy of a message: the original's, minus what the broker or an earlier
/// pass added (`x-death` and friends would make RabbitMQ's dead-letter cycle detection drop the
/// message on its second trip through a retry queue), plus the new retry state.
pub fn retry_headers(original: Option<&FieldTable>, attempt: u32, first: DateTime<Utc>, error: &str) -> FieldTable {
    let mut headers = strip_broker_headers(original);
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(i64::from(attempt)));
    headers.insert(FIRST_FAILURE_HEADER.into(), AMQPValue::LongLongInt(first.timestamp_millis()));
    headers.insert(LAST_ERROR_HEADER.into(), AMQPValue::LongString(truncate(error).into()));
    headers
}

/// The original headers without the broker-added death records and delivery count.
pub fn strip_broker_headers(original: Option<&FieldTable>) -> FieldTable {
    let Some(original) = original else {
        return FieldTable::default();
    };
    let kept = original
        .inner()
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            !(k == "x-death" || k.starts_with("x-first-death-") || k.starts_with("x-last-death-"))
                && k != "x-delivery-count"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<std::collections::BTreeMap<ShortString, AMQPValue>>();
    FieldTable::from(kept)
}

pub(crate) fn truncate(text: &str) -> String {
    if text.len() <= MAX_ERROR_LEN {
        return text.to_string();
    }
    let mut end = MAX_ERROR_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

pub(crate) fn as_i64(v: &AMQPValue) -> Option<i64> {
    match v {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        let delays: Vec<u64> = (1..=9).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.delay(0), p.delay(1));
        assert_eq!(p.delay(u32::MAX), ms(60_000), "no overflow however many attempts");
    }

    #[test]
    fn tiers_are_the_distinct_delays() {
        let p = RetryPolicy::default();
        let tiers: Vec<u64> = p.tiers().iter().map(|d| d.as_secs()).collect();
        assert_eq!(tiers, [1, 2, 4, 8, 16, 32, 60]);
        let fixed = RetryPolicy::new(ms(500), ms(500), 1, Duration::from_secs(10)).unwrap();
        assert_eq!(fixed.tiers(), [ms(500)]);
        let flat = RetryPolicy::new(ms(100), ms(10_000), 1, Duration::from_secs(10)).unwrap();
        assert_eq!(flat.tiers(), [ms(100)], "multiplier 1 never grows");
    }

    #[test]
    fn refuses_schedules_that_make_no_sense() {
        let h = Duration::from_secs(60);
        assert!(RetryPolicy::new(ms(0), ms(10), 2, h).is_err());
        assert!(RetryPolicy::new(ms(10), ms(5), 2, h).is_err());
        assert!(RetryPolicy::new(ms(10), ms(50), 0, h).is_err());
        assert!(RetryPolicy::new(ms(10), ms(50), 2, Duration::ZERO).is_err());
        assert!(RetryPolicy::new(ms(1), ms(3_600_000_000), 2, h).is_err(), "too many tiers");
        assert!(RetryPolicy::new(ms(1), ms(3_600_000), 2, h).is_ok());
    }

    #[test]
    fn retries_until_the_horizon_then_gives_up() {
        let p = RetryPolicy::new(ms(100), ms(1000), 2, Duration::from_secs(30)).unwrap();
        let now = Utc::now();
        let fresh = p.decide(&RetryState::default(), now);
        assert_eq!(fresh, RetryDecision::RetryIn { attempt: 1, delay: ms(100), first_failed_at: now });
        let later = RetryState { attempt: 3, first_failed_at: Some(now - chrono::Duration::seconds(29)) };
        assert!(matches!(p.decide(&later, now), RetryDecision::RetryIn { attempt: 4, delay, .. } if delay == ms(800)));
        let expired = RetryState { attempt: 40, first_failed_at: Some(now - chrono::Duration::seconds(30)) };
        assert_eq!(p.decide(&expired, now), RetryDecision::GiveUp);
    }

    #[test]
    fn headers_round_trip_and_drop_broker_bookkeeping() {
        let mut original = FieldTable::default();
        original.insert("traceparent".into(), AMQPValue::LongString("00-abc-def-01".into()));
        original.insert("x-death".into(), AMQPValue::FieldArray(Default::default()));
        original.insert("x-first-death-reason".into(), AMQPValue::LongString("expired".into()));
        original.insert("x-delivery-count".into(), AMQPValue::LongLongInt(3));
        let first = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let h = retry_headers(Some(&original), 2, first, &"e".repeat(2000));
        assert!(h.contains_key("traceparent"));
        assert!(!h.contains_key("x-death") && !h.contains_key("x-first-death-reason"));
        assert!(!h.contains_key("x-delivery-count"));
        assert_eq!(RetryState::from_headers(Some(&h)), RetryState { attempt: 2, first_failed_at: Some(first) });
        let Some(AMQPValue::LongString(e)) = h.inner().get(LAST_ERROR_HEADER) else { panic!("no error header") };
        assert!(e.as_bytes().len() < 600);
        assert_eq!(RetryState::from_headers(None), RetryState::default());
    }
}
