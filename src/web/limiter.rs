//! Failed sign-ins counted per key (a client address, a user name) over a sliding window; a key
//! with too many recent failures is refused without checking its password, so guessing is slow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failure counts against its key.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys tracked at most; past this (after dropping stale ones) new keys are refused, so a flood of
/// made-up user names cannot grow memory without bound.
const MAX_KEYS: usize = 10_000;

pub struct SignInLimiter {
    max_failures: usize,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl SignInLimiter {
    pub fn new(max_failures: u32) -> SignInLimiter {
        SignInLimiter {
            max_failures: max_failures as usize,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any of `keys` may not try now.
    pub fn is_blocked(&self, keys: &[&str]) -> bool {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("limiter lock");
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < WINDOW));
            if failures.len() >= MAX_KEYS && keys.iter().any(|k| !failures.contains_key(*k)) {
                return true;
            }
        }
        keys.iter().any(|key| {
            failures.get(*key).is_some_and(|times| {
                times
                    .iter()
                    .filter(|t| now.duration_since(**t) < WINDOW)
                    .count()
                    >= self.max_failures
            })
        })
    }

    pub fn record_failure(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("limiter lock");
        for key in keys {
            let times = failures.entry((*key).to_string()).or_default();
            times.retain(|t| now.duration_since(*t) < WINDOW);
            times.push(now);
        }
    }

    /// A successful sign-in forgives the keys' past failures.
    pub fn forgive(&self, keys: &[&str]) {
        let mut failures = self.failures.lock().expect("limiter lock");
        for key in keys {
            failures.remove(*key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_after_the_allowed_failures_and_others_are_not() {
        let limiter = SignInLimiter::new(2);
        limiter.record_failure(&["ip:1", "user:a"]);
        assert!(!limiter.is_blocked(&["ip:1", "user:a"]));
        limiter.record_failure(&["ip:1", "user:b"]);
        assert!(
            limiter.is_blocked(&["ip:1", "user:c"]),
            "the address is blocked"
        );
        assert!(
            !limiter.is_blocked(&["ip:2", "user:a"]),
            "user a failed once"
        );
        limiter.record_failure(&["ip:3", "user:a"]);
        assert!(
            limiter.is_blocked(&["ip:4", "user:a"]),
            "the user is blocked"
        );
        limiter.forgive(&["ip:1"]);
        assert!(!limiter.is_blocked(&["ip:1", "user:b"]));
    }
}
