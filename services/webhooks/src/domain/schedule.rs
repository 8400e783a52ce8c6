//! The retry schedule: the delay before each attempt, Svix's by default (immediately, 5 s, 5 min,
//! 30 min, 2 h, 5 h, 10 h, 10 h: about a day and a half), with jitter so a partner that was down
//! is not hit by every retry at the same second. `WEBHOOKS_RETRY_SCHEDULE` replaces it (tests
//! shorten it).

use std::time::Duration;

pub const DEFAULT: &str = "0s,5s,5m,30m,2h,5h,10h,10h";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Delay before attempt n+1, counted from the previous attempt (the first from receipt).
    delays: Vec<Duration>,
}

impl Schedule {
    /// Parse `"0s,5s,5m,30m,2h"`: comma-separated numbers with a unit `ms`, `s`, `m` or `h`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let delays = text.split(',').map(|p| parse_duration(p.trim())).collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("the retry schedule needs at least one attempt".into());
        }
        Ok(Self { delays })
    }

    /// How many attempts a delivery gets before it is failed.
    pub fn attempts(&self) -> usize {
        self.delays.len()
    }

    /// The delay before attempt number `attempts_made + 1`, or `None` when every attempt was made.
    /// `jitter` in [0, 1) adds up to 20% of the delay.
    pub fn next_delay(&self, attempts_made: usize, jitter: f64) -> Option<Duration> {
        let base = *self.delays.get(attempts_made)?;
        // Jitter is a share of a delay, not money: a float is right here.
        let extra = base.mul_f64(0.2 * jitter.clamp(0.0, 0.999));
        Some(base + extra)
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a delay like 500ms, 5s, 5m or 2h");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_svix_like_and_ends_after_eight_attempts() {
        let s = Schedule::parse(DEFAULT).unwrap();
        assert_eq!(s.attempts(), 8);
        assert_eq!(s.next_delay(0, 0.0), Some(Duration::ZERO));
        assert_eq!(s.next_delay(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(2, 0.0), Some(Duration::from_secs(300)));
        assert_eq!(s.next_delay(7, 0.0), Some(Duration::from_secs(36_000)));
        assert_eq!(s.next_delay(8, 0.0), None);
        let total: Duration = (0..8).filter_map(|i| s.next_delay(i, 0.0)).sum();
        assert_eq!(total, Duration::from_secs(5 + 300 + 1800 + 7200 + 18_000 + 36_000 + 36_000));
    }

    #[test]
    fn jitter_adds_at_most_a_fifth() {
        let s = Schedule::parse("10s").unwrap();
        let d = s.next_delay(0, 0.5).unwrap();
        assert_eq!(d, Duration::from_secs(11));
        assert!(s.next_delay(0, 5.0).unwrap() < Duration::from_secs(12));
    }

    #[test]
    fn parses_units_and_refuses_nonsense() {
        let s = Schedule::parse("0ms, 200ms,1s").unwrap();
        assert_eq!(s.next_delay(1, 0.0), Some(Duration::from_millis(200)));
        for bad in ["", "5", "5d", "s", "1s,,2s", "-1s"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
