//! Failed sign-ins counted per key (a client address, a user name) over a sliding window, in the
//! database, so several instances behind a balancer share one count rather than each granting an
//! attacker its own allowance. The rules applied to the counts are in [`super::sign_in_policy`]: an
//! address is blocked after a few failures, a user name only waits a growing delay.
//!
//! An attempt is counted as a failure before its password is checked, then forgiven if it was
//! right: attempts racing in parallel (on one instance or several) cannot all slip through while
//! each waits for the slow password hash. After counting itself, an attempt looks again: its
//! address must still be under the limit, and it must be the only attempt on its user name since
//! the last failure it saw; otherwise it is withdrawn and refused.

use std::time::Duration;

use super::sign_in_policy::{Failures, SignInPolicy, Verdict};
use crate::clock::now_ms;
use crate::store::{Store, StoreError};

/// How long a failure counts against its key.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The longest wait a user name's failures impose.
pub const MAX_USER_DELAY: Duration = Duration::from_secs(60);

pub struct SignInLimiter {
    store: Store,
    policy: SignInPolicy,
}

/// An attempt let through to the password check; it counts as a failure unless forgiven.
pub struct Attempt {
    keys: [String; 2],
}

/// Whether an attempt may check its password.
pub enum Admission {
    Admitted(Attempt),
    /// The client's address is over its limit.
    ClientBlocked,
    /// The user name failed recently: try again after this long.
    UserWaits(Duration),
}

impl SignInLimiter {
    pub fn new(store: Store, max_failures: u32, first_delay: Duration) -> SignInLimiter {
        SignInLimiter {
            store,
            policy: SignInPolicy {
                max_client_failures: i64::from(max_failures),
                first_delay,
                max_delay: MAX_USER_DELAY,
            },
        }
    }

    /// Lets an attempt from `client_key` on `user_key` through, counted as a failure, or refuses it.
    pub async fn admit(&self, client_key: &str, user_key: &str) -> Result<Admission, StoreError> {
        let now = now_ms();
        let since = now - WINDOW.as_millis() as i64;
        let failures = self.failures(client_key, user_key, since).await?;
        // Deciding on reads alone keeps a refused attempt (the usual case under attack) free of writes.
        match self.policy.decide(&failures, now) {
            Verdict::Try => {}
            Verdict::ClientBlocked => return Ok(Admission::ClientBlocked),
            Verdict::UserWaits { until_ms } => {
                return Ok(Admission::UserWaits(wait(until_ms, now)));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.store
            .insert_sign_in_attempt(&id, &[client_key, user_key], now)
            .await?;
        // Looking again with this attempt counted: one racing past the first check is caught here.
        let (client, _) = self.store.sign_in_failures(client_key, since).await?;
        if client > self.policy.max_client_failures {
            self.store.withdraw_sign_in_attempt(&id).await?;
            return Ok(Admission::ClientBlocked);
        }
        if !self.policy.first_delay.is_zero() {
            // Attempts racing this one counted themselves after the same last failure: any of them
            // seen here means this one does not go ahead (both may step back, never both go on).
            let after = failures.user_last_at_ms.unwrap_or(since);
            let (since_last, _) = self.store.sign_in_failures(user_key, after).await?;
            if since_last > 1 {
                self.store.withdraw_sign_in_attempt(&id).await?;
                let delay = self.policy.user_delay(failures.user + 1);
                return Ok(Admission::UserWaits(delay));
            }
        }
        Ok(Admission::Admitted(Attempt {
            keys: [client_key.to_string(), user_key.to_string()],
        }))
    }

    async fn failures(
        &self,
        client_key: &str,
        user_key: &str,
        since: i64,
    ) -> Result<Failures, StoreError> {
        let (client, _) = self.store.sign_in_failures(client_key, since).await?;
        let (user, user_last_at_ms) = self.store.sign_in_failures(user_key, since).await?;
        Ok(Failures {
            client,
            user,
            user_last_at_ms,
        })
    }

    /// A successful sign-in forgives its keys' failures, this attempt's included.
    pub async fn forgive(&self, attempt: Attempt) -> Result<(), StoreError> {
        let [client, user] = &attempt.keys;
        self.store
            .forgive_sign_in_failures(&[client.as_str(), user.as_str()])
            .await
    }
}

/// From `now_ms` until `until_ms`, at least a millisecond.
fn wait(until_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(until_ms - now_ms).unwrap_or(0).max(1))
}

/// Forgets failures that no longer count: run now and then by the server's pruner.
pub async fn prune(store: &Store) -> Result<u64, StoreError> {
    store
        .prune_sign_in_failures(now_ms() - WINDOW.as_millis() as i64)
        .await
}
