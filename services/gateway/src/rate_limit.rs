//! GCRA rate limiting (the MIT `governor` crate): per client IP before the token is verified
//! (so floods of bad tokens are cheap to refuse) and per user after.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use platform::Problem;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use uuid::Uuid;

pub struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_user: DefaultKeyedRateLimiter<Uuid>,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(per_sec).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limits {
    pub fn new(ip_per_sec: u32, ip_burst: u32, user_per_sec: u32, user_burst: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(ip_per_sec, ip_burst)),
            per_user: RateLimiter::keyed(quota(user_per_sec, user_burst)),
        }
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
