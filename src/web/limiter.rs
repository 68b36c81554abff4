//! Failed sign-ins counted per key (a client address, a user name) over a sliding window, in the
//! database, so several instances behind a balancer share one count rather than each granting an
//! attacker its own allowance. A key with too many recent failures is refused without checking
//! its password, so guessing is slow.
//!
//! An attempt is counted as a failure before its password is checked, then forgiven if it was
//! right: attempts racing in parallel (on one instance or several) cannot all slip under the limit
//! while each waits for the slow password hash.

use std::time::Duration;

use crate::clock::now_ms;
use crate::store::{Store, StoreError};

/// How long a failure counts against its key.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

pub struct SignInLimiter {
    store: Store,
    max_failures: i64,
}

/// An attempt let through to the password check; it counts as a failure unless forgiven.
pub struct Attempt {
    keys: Vec<String>,
}

impl SignInLimiter {
    pub fn new(store: Store, max_failures: u32) -> SignInLimiter {
        SignInLimiter {
            store,
            max_failures: i64::from(max_failures),
        }
    }

    /// Lets an attempt on `keys` through, counted as a failure, or `None` when any key has had too
    /// many failures in the window.
    pub async fn admit(&self, keys: &[&str]) -> Result<Option<Attempt>, StoreError> {
        let now = now_ms();
        let since = now - WINDOW.as_millis() as i64;
        // Reading first keeps a refused attempt (the usual case under attack) free of writes.
        if self.store.most_sign_in_failures(keys, since).await? >= self.max_failures {
            return Ok(None);
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.store.insert_sign_in_attempt(&id, keys, now).await?;
        // Counting again with this attempt in: one racing past the first check is caught here.
        if self.store.most_sign_in_failures(keys, since).await? > self.max_failures {
            self.store.withdraw_sign_in_attempt(&id).await?;
            return Ok(None);
        }
        Ok(Some(Attempt {
            keys: keys.iter().map(|k| k.to_string()).collect(),
        }))
    }

    /// A successful sign-in forgives its keys' failures, this attempt's included.
    pub async fn forgive(&self, attempt: Attempt) -> Result<(), StoreError> {
        let keys: Vec<&str> = attempt.keys.iter().map(String::as_str).collect();
        self.store.forgive_sign_in_failures(&keys).await
    }
}

/// Forgets failures that no longer count: run now and then by the server's pruner.
pub async fn prune(store: &Store) -> Result<u64, StoreError> {
    store
        .prune_sign_in_failures(now_ms() - WINDOW.as_millis() as i64)
        .await
}
