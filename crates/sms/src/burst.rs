//! The per-organisation burst guard: a keyed GCRA limiter in memory, per node (30 a
//! minute with bursts of 10 by default). The exact caps (per recipient per hour, per
//! organisation per day) are counted in the database, across nodes.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

pub struct BurstLimiter {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
}

impl BurstLimiter {
    /// `per_minute` sustained, `burst` at once; both at least 1.
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> BurstLimiter {
        BurstLimiter { limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)) }
    }

    /// Takes one send for the organisation, or says how long until one is free.
    pub fn check(&self, org_id: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&org_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets organisations whose allowance is full again, so the map does not grow
    /// without bound; call it from a timer.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait_per_organisation() {
        let limiter = BurstLimiter::new(NonZeroU32::new(30).unwrap(), NonZeroU32::new(10).unwrap());
        for _ in 0..10 {
            assert!(limiter.check("org-a").is_ok());
        }
        let wait = limiter.check("org-a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(2), "{wait:?}");
        assert!(limiter.check("org-b").is_ok(), "organisations are independent");
        limiter.forget_idle();
    }
}
