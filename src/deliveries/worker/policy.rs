//! How the worker retries and polls: the backoff between attempts, the lease of a claim, how many
//! deliveries run at once.

use std::time::Duration;

/// How often to retry, and how long a claim lasts.
///
/// Attempt `n` (from 1) that fails retryably waits `base * 2^(n-1)`, capped at `max`, with
/// jitter down to half, so items that failed together do not retry in lockstep. After
/// `max_attempts` attempts the item is given up. `lease` must exceed the longest attempt (the CRM
/// webhook's timeout; 30 s for an SMS attempt, lookup included), or another worker may start the
/// same item while it is still in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
    pub lease: Duration,
}

impl Default for RetryPolicy {
    /// About a day of retries: 5 s doubling to an hourly cap, 30 attempts.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3_600),
            max_attempts: 30,
            lease: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (from 1), before any Retry-After is considered.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let capped = self.base.saturating_mul(1u32 << doublings).min(self.max);
        capped / 2 + capped.mul_f64(random_fraction() / 2.0)
    }

    /// The wait after failed attempt `attempt`: our backoff, or the receiver's Retry-After when
    /// longer, honoured only up to `max` so a receiver cannot park an item.
    pub fn wait_after(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.backoff(attempt)
            .max(retry_after.unwrap_or_default().min(self.max))
    }
}

/// How the task polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// The longest sleep between passes when nothing wakes the task earlier.
    pub poll_interval: Duration,
    /// Deliveries in flight at once, at most; due rows are claimed as slots free up.
    pub in_flight: i64,
    /// On shutdown, how long deliveries already in flight may still finish.
    pub in_flight_grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            in_flight: 8,
            in_flight_grace: Duration::from_secs(2),
        }
    }
}

/// A fraction in [0, 1) for jitter; a random UUID's bits are random enough for that.
fn random_fraction() -> f64 {
    // The low 53 bits: clear of the version and variant bits.
    let bits = uuid::Uuid::new_v4().as_u128() as u64 & ((1u64 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
            max_attempts: 10,
            lease: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_down_to_half() {
        let policy = policy();
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1_000),
            (40, 1_000),
        ] {
            let full = Duration::from_millis(full);
            let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(attempt)).collect();
            assert!(
                waits.iter().all(|wait| *wait >= full / 2 && *wait <= full),
                "attempt {attempt}: {waits:?}"
            );
            let spread = waits
                .iter()
                .max()
                .unwrap()
                .saturating_sub(*waits.iter().min().unwrap());
            assert!(
                spread > full / 10,
                "attempt {attempt} does not jitter: {waits:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = policy();
        let asked = |secs| Some(Duration::from_millis(secs));
        assert_eq!(policy.wait_after(1, asked(700)), Duration::from_millis(700));
        assert_eq!(
            policy.wait_after(1, asked(60_000)),
            Duration::from_millis(1_000)
        );
        // A shorter Retry-After does not cut our own backoff.
        assert!(policy.wait_after(4, asked(1)) >= Duration::from_millis(400));
    }
}
