//! GCRA rate limiting (the MIT `governor` crate): per client IP before the token is verified
//! (so floods of bad tokens are cheap to refuse) and per user after.
//!
//! The buckets live in each replica's memory. The configured limits are the fleet's: with
//! `GATEWAY_RATE_LIMIT_REPLICAS=N` each replica enforces 1/N of the rate and of the burst, so N
//! replicas behind a per-request load balancer (ingress-nginx spreads every client's requests
//! over all gateway pods) admit about the configured total. Why not a shared store, and the
//! bound while an autoscaler changes the replica count: docs/operations.md, "Rate limits at N
//! replicas".

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use platform::Problem;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;
use uuid::Uuid;

pub struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_user: DefaultKeyedRateLimiter<Uuid>,
}

/// One replica's share of a fleet-wide limit: 1/`replicas` of the rate, as an exact emission
/// period (100/s over 3 replicas is one request per 30 ms, not a rounded 33/s), and of the burst,
/// rounded up so a replica always admits at least one request.
fn quota(per_sec: u32, burst: u32, replicas: u32) -> Quota {
    let per_sec = per_sec.max(1);
    let replicas = replicas.max(1);
    let period = Duration::from_secs_f64(f64::from(replicas) / f64::from(per_sec));
    let burst = NonZeroU32::new(burst.max(per_sec).div_ceil(replicas).max(1)).unwrap_or(NonZeroU32::MIN);
    let fallback = || Quota::per_second(NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN));
    Quota::with_period(period).unwrap_or_else(fallback).allow_burst(burst)
}

impl Limits {
    /// The fleet-wide limits divided by `replicas` (at least 1).
    pub fn new(
        ip_per_sec: u32,
        ip_burst: u32,
        user_per_sec: u32,
        user_burst: u32,
        replicas: u32,
    ) -> Result<Self, String> {
        if replicas == 0 {
            return Err("GATEWAY_RATE_LIMIT_REPLICAS must be at least 1".into());
        }
        Ok(Self {
            per_ip: RateLimiter::keyed(quota(ip_per_sec, ip_burst, replicas)),
            per_user: RateLimiter::keyed(quota(user_per_sec, user_burst, replicas)),
        })
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Problem> {
        check(&self.per_ip, &ip)
    }

    pub fn check_user(&self, user: Uuid) -> Result<(), Problem> {
        check(&self.per_user, &user)
    }

    /// Forget idle keys so memory stays bounded; called periodically.
    pub fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_user.retain_recent();
    }
}

fn check<K: Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Problem> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut p = Problem::new(actix_web::http::StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests")
            .with_detail("slow down and retry after the time in Retry-After");
        p.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of `n` immediate requests one key gets through.
    fn admitted(limits: &Limits, n: usize) -> usize {
        let ip = IpAddr::from([10, 0, 0, 1]);
        (0..n).filter(|_| limits.check_ip(ip).is_ok()).count()
    }

    #[test]
    fn one_replica_gets_the_whole_burst() {
        let limits = Limits::new(10, 30, 10, 30, 1).unwrap();
        assert_eq!(admitted(&limits, 100), 30);
    }

    #[test]
    fn each_replica_gets_its_share_of_the_burst_rounded_up() {
        let limits = Limits::new(10, 30, 10, 30, 3).unwrap();
        assert_eq!(admitted(&limits, 100), 10);
        let limits = Limits::new(10, 31, 10, 31, 3).unwrap();
        assert_eq!(admitted(&limits, 100), 11);
        let limits = Limits::new(1, 1, 1, 1, 8).unwrap();
        assert_eq!(admitted(&limits, 100), 1, "never less than one");
    }

    #[test]
    fn the_rate_is_divided_exactly() {
        // 100/s over 3 replicas: one request every 30 ms per replica.
        let period = quota(100, 100, 3).replenish_interval();
        assert_eq!(period, Duration::from_millis(30));
        assert_eq!(quota(100, 100, 1).replenish_interval(), Duration::from_millis(10));
    }

    #[test]
    fn zero_replicas_is_a_configuration_error() {
        assert!(Limits::new(10, 10, 10, 10, 0).is_err());
    }
}
