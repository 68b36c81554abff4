//! Who may try a password now, decided from the failures counted so far, with the time as an input.
//!
//! Two rules, because they stop different attackers:
//! - a client address with too many failures in the window is blocked: guessing from one address
//!   stops there, and blocking it costs the real admin (elsewhere) nothing;
//! - a user name with failures waits a delay that doubles with each failure, up to a cap, but is
//!   never blocked: guessing from many addresses is slowed to one try per delay, and the admin,
//!   from an address of their own, still gets in once the delay has passed. A hard lock per name
//!   would let anyone lock the only admin out with a few requests every window.

use std::time::Duration;

/// The rules' parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInPolicy {
    /// Failures from one client address in the window that block it.
    pub max_client_failures: i64,
    /// The wait after a user name's first failure; each further failure doubles it. Zero: no waits.
    pub first_delay: Duration,
    /// The longest wait a user name's failures can impose.
    pub max_delay: Duration,
}

/// Failures counted in the window, as the store reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub client: i64,
    pub user: i64,
    /// When the user name last failed (epoch ms).
    pub user_last_at_ms: Option<i64>,
}

/// What an attempt may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Try,
    /// This address has failed too often: refused unchecked until its failures age out.
    ClientBlocked,
    /// The user name failed recently: refused unchecked until `until_ms` (epoch ms).
    UserWaits { until_ms: i64 },
}

impl SignInPolicy {
    /// The wait a user name's `failures` impose after its last one.
    pub fn user_delay(&self, failures: i64) -> Duration {
        if failures <= 0 {
            return Duration::ZERO;
        }
        let doublings = (failures - 1).min(31) as u32;
        self.first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }

    pub fn decide(&self, failures: &Failures, now_ms: i64) -> Verdict {
        if failures.client >= self.max_client_failures {
            return Verdict::ClientBlocked;
        }
        if let Some(last) = failures.user_last_at_ms {
            let delay =
                i64::try_from(self.user_delay(failures.user).as_millis()).unwrap_or(i64::MAX);
            let until_ms = last.saturating_add(delay);
            if now_ms < until_ms {
                return Verdict::UserWaits { until_ms };
            }
        }
        Verdict::Try
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_750_000_000_000;

    fn policy() -> SignInPolicy {
        SignInPolicy {
            max_client_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }

    fn user_failed(count: i64, last_at_ms: i64) -> Failures {
        Failures {
            client: 0,
            user: count,
            user_last_at_ms: Some(last_at_ms),
        }
    }

    #[test]
    fn the_delay_doubles_per_failure_up_to_the_cap() {
        let delays: Vec<u64> = (0..10).map(|n| policy().user_delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(policy().user_delay(10_000), Duration::from_secs(60));
        let off = SignInPolicy {
            first_delay: Duration::ZERO,
            ..policy()
        };
        assert_eq!(off.user_delay(7), Duration::ZERO);
    }

    #[test]
    fn an_address_is_blocked_at_its_limit_whatever_the_name() {
        let mut failures = Failures {
            client: 4,
            ..Failures::default()
        };
        assert_eq!(policy().decide(&failures, T), Verdict::Try);
        failures.client = 5;
        assert_eq!(policy().decide(&failures, T), Verdict::ClientBlocked);
        failures.client = 50;
        assert_eq!(
            policy().decide(&failures, T + 3_600_000),
            Verdict::ClientBlocked
        );
    }

    #[test]
    fn a_name_with_many_failures_waits_but_is_never_locked() {
        // A thousand guesses from a thousand addresses, the last one at T.
        let failures = user_failed(1000, T);
        assert_eq!(
            policy().decide(&failures, T + 1),
            Verdict::UserWaits {
                until_ms: T + 60_000
            }
        );
        assert_eq!(
            policy().decide(&failures, T + 59_999),
            Verdict::UserWaits {
                until_ms: T + 60_000
            }
        );
        // A fresh address (no failures of its own) with the name tries once the wait is over.
        assert_eq!(policy().decide(&failures, T + 60_000), Verdict::Try);
    }

    #[test]
    fn the_wait_counts_from_the_last_failure() {
        assert_eq!(
            policy().decide(&user_failed(3, T), T + 3_999),
            Verdict::UserWaits {
                until_ms: T + 4_000
            }
        );
        assert_eq!(policy().decide(&user_failed(3, T), T + 4_000), Verdict::Try);
        assert_eq!(
            policy().decide(&Failures::default(), T),
            Verdict::Try,
            "no failures, no wait"
        );
    }

    #[test]
    fn a_blocked_address_is_told_so_before_any_wait() {
        let failures = Failures {
            client: 5,
            user: 2,
            user_last_at_ms: Some(T),
        };
        assert_eq!(policy().decide(&failures, T + 1), Verdict::ClientBlocked);
    }
}
