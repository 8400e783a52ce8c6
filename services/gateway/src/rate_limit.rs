//! GCRA rate limiting (the MIT `governor` crate): per client IP before the token is verified
//! (so floods of bad tokens are cheap to refuse) and per user after; the expensive routes
//! (`route_table::is_expensive`: searches, exports, reports, audit reads) spend from a third,
//! much tighter bucket per user (per IP for an anonymous search), so one caller cannot keep the
//! databases busy with them while staying under the general limit.
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
    expensive: DefaultKeyedRateLimiter<Caller>,
    replicas: u32,
}

/// Whose bucket an expensive request spends from: the signed-in user, else the client address
/// (the public catalogue search).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    User(Uuid),
    Ip(IpAddr),
}

/// `GATEWAY_RATE_LIMIT_EXPENSIVE_PER_MIN` and `_BURST` when unset.
pub const EXPENSIVE_PER_MIN: u32 = 30;
pub const EXPENSIVE_BURST: u32 = 10;

/// Per minute, for the expensive routes: a rate below one a second. Same division by replicas
/// as [`quota`]; the burst is not raised to the rate (10 at once, then one every 2 s).
fn quota_per_minute(per_min: u32, burst: u32, replicas: u32) -> Quota {
    let per_min = per_min.max(1);
    let replicas = replicas.max(1);
    let period = Duration::from_secs_f64(60.0 * f64::from(replicas) / f64::from(per_min));
    let burst = NonZeroU32::new(burst.div_ceil(replicas).max(1)).unwrap_or(NonZeroU32::MIN);
    let fallback = || Quota::per_minute(NonZeroU32::new(per_min).unwrap_or(NonZeroU32::MIN));
    Quota::with_period(period).unwrap_or_else(fallback).allow_burst(burst)
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
            expensive: RateLimiter::keyed(quota_per_minute(EXPENSIVE_PER_MIN, EXPENSIVE_BURST, replicas)),
            replicas,
        })
    }

    /// The fleet-wide limit of the expensive routes, divided like the others.
    pub fn with_expensive(mut self, per_min: u32, burst: u32) -> Self {
        self.expensive = RateLimiter::keyed(quota_per_minute(per_min, burst, self.replicas));
        self
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Problem> {
        check(&self.per_ip, &ip)
    }

    pub fn check_user(&self, user: Uuid) -> Result<(), Problem> {
        check(&self.per_user, &user)
    }

    /// One expensive request (on top of [`Limits::check_user`] or [`Limits::check_ip`]).
    pub fn check_expensive(&self, caller: Caller) -> Result<(), Problem> {
        check(&self.expensive, &caller).map_err(|p| {
            p.with_detail(
                "searches, exports, reports and audit reads have a tighter limit: retry after the time in Retry-After",
            )
        })
    }

    /// Forget idle keys so memory stays bounded; called periodically.
    pub fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_user.retain_recent();
        self.expensive.retain_recent();
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
    fn the_expensive_bucket_is_per_caller_and_apart_from_the_general_one() {
        let limits = Limits::new(10, 30, 10, 30, 1).unwrap().with_expensive(6, 3);
        let alice_id = Uuid::now_v7();
        let (alice, bob) = (Caller::User(alice_id), Caller::User(Uuid::now_v7()));
        let through = |c: Caller| (0..10).filter(|_| limits.check_expensive(c).is_ok()).count();
        assert_eq!(through(alice), 3, "the burst, then refused");
        assert_eq!(through(bob), 3, "another user has a bucket of their own");
        let refused = limits.check_expensive(alice).unwrap_err();
        assert_eq!(refused.status, 429);
        assert!(refused.retry_after.is_some_and(|s| (1..=10).contains(&s)), "{:?}", refused.retry_after);
        assert!(limits.check_user(alice_id).is_ok(), "the general bucket is apart");
        // 6 a minute over 2 replicas: one every 20 s per replica, half the burst rounded up.
        assert_eq!(quota_per_minute(6, 3, 2).replenish_interval(), Duration::from_secs(20));
        assert_eq!(quota_per_minute(6, 3, 2).burst_size().get(), 2);
    }

    #[test]
    fn zero_replicas_is_a_configuration_error() {
        assert!(Limits::new(10, 10, 10, 10, 0).is_err());
    }
}
