//! Live sessions by CallSid.
//!
//! Ownership: the registry holds each session's inbox sender and nothing else; the session task owns
//! its state and removes its own entry when it ends. Session tasks run on the registry's
//! [`TaskTracker`], so shutdown can wait for every call to finish writing its records. The shutdown
//! [`CancellationToken`] is the parent of every session's token: cancelling it ends all calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::session::Control;

/// No session was started: the server already has its limit of live calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server has its limit of {0} live calls")]
pub struct AtCapacity(pub usize);

#[derive(Clone)]
pub struct Registry {
    live: Arc<Mutex<HashMap<String, mpsc::Sender<Control>>>>,
    /// Live calls at most (`SICHA_MAX_CALLS`): checked when a session starts, under the same lock
    /// that adds it, so concurrent attaches cannot overshoot it.
    max_live: usize,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::with_limit(usize::MAX)
    }

    /// A registry that starts at most `max_live` sessions at once.
    pub fn with_limit(max_live: usize) -> Self {
        Self {
            max_live,
            live: Arc::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The inbox of the live session for `call_sid`, starting one with `start` when there is none (or
    /// the old one has already closed its inbox). `start` receives the new inbox (both ends: the session
    /// keeps a sender to [`Registry::remove`] itself by identity) and the session's cancellation token,
    /// and returns the session future, which runs on the registry's tracker. A new session beyond the
    /// limit is refused.
    pub fn get_or_start<F, Fut>(
        &self,
        call_sid: &str,
        start: F,
    ) -> Result<mpsc::Sender<Control>, AtCapacity>
    where
        F: FnOnce(mpsc::Sender<Control>, mpsc::Receiver<Control>, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut live = self.live.lock().expect("registry lock");
        if let Some(inbox) = live.get(call_sid)
            && !inbox.is_closed()
        {
            return Ok(inbox.clone());
        }
        if live.len() >= self.max_live {
            // Sessions that closed their inbox but have not removed themselves yet do not count.
            live.retain(|_, inbox| !inbox.is_closed());
            if live.len() >= self.max_live {
                return Err(AtCapacity(self.max_live));
            }
        }
        let (inbox, receiver) = mpsc::channel(super::session::CONTROL_CAPACITY);
        live.insert(call_sid.to_string(), inbox.clone());
        metrics::gauge!("sicha_live_calls").set(live.len() as f64);
        drop(live);
        self.tasks
            .spawn(start(inbox.clone(), receiver, self.shutdown.child_token()));
        Ok(inbox)
    }

    /// Called by a session as it ends. Removes the entry only if it is still that session's.
    pub fn remove(&self, call_sid: &str, inbox: &mpsc::Sender<Control>) {
        let mut live = self.live.lock().expect("registry lock");
        if live
            .get(call_sid)
            .is_some_and(|current| current.same_channel(inbox))
        {
            live.remove(call_sid);
        }
        metrics::gauge!("sicha_live_calls").set(live.len() as f64);
    }

    pub fn live_calls(&self) -> usize {
        self.live.lock().expect("registry lock").len()
    }

    pub fn is_live(&self, call_sid: &str) -> bool {
        self.live
            .lock()
            .expect("registry lock")
            .contains_key(call_sid)
    }

    /// Ends every live call (their sessions finalise their records) and stops new ones from starting
    /// tracked work after this point.
    pub fn end_all(&self) {
        self.shutdown.cancel();
    }

    /// Waits until every session task has finished.
    pub async fn wait_finished(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Waits until no call is live, or `deadline` passes; returns how many are still live.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        let poll = std::time::Duration::from_millis(50);
        while self.live_calls() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(
                poll.min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            )
            .await;
        }
        self.live_calls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reconnect_finds_the_same_session_and_a_finished_one_is_replaced() {
        let registry = Registry::new();
        let (started_tx, mut started_rx) = mpsc::unbounded_channel();
        let start = |me: mpsc::Sender<Control>,
                     mut inbox: mpsc::Receiver<Control>,
                     _: CancellationToken| {
            let started = started_tx.clone();
            async move {
                drop(me);
                started.send(()).unwrap();
                // A session that ends at its first input.
                let _ = inbox.recv().await;
            }
        };
        let first = registry.get_or_start("CA1", start).unwrap();
        let again = registry.get_or_start("CA1", start).unwrap();
        assert!(first.same_channel(&again));
        started_rx.recv().await.unwrap();
        assert!(started_rx.try_recv().is_err(), "one session per CallSid");
        assert_eq!(registry.live_calls(), 1);

        first
            .send(Control::Input(crate::call::core::Input::Dtmf("1".into())))
            .await
            .unwrap();
        first.closed().await;
        let replaced = registry.get_or_start("CA1", start).unwrap();
        assert!(
            !replaced.same_channel(&first),
            "a closed inbox is not reused"
        );
        registry.remove("CA1", &first);
        assert!(
            registry.is_live("CA1"),
            "removing a stale inbox leaves the new session alone"
        );
        registry.remove("CA1", &replaced);
        assert_eq!(registry.live_calls(), 0);
    }

    #[tokio::test]
    async fn sessions_beyond_the_limit_are_refused_but_a_live_call_is_still_found() {
        let registry = Registry::with_limit(2);
        let start = |_me: mpsc::Sender<Control>,
                     mut inbox: mpsc::Receiver<Control>,
                     _: CancellationToken| async move {
            let _ = inbox.recv().await;
        };
        let one = registry.get_or_start("CA1", start).unwrap();
        registry.get_or_start("CA2", start).unwrap();
        assert_eq!(
            registry.get_or_start("CA3", start).err(),
            Some(AtCapacity(2))
        );
        assert!(
            registry
                .get_or_start("CA1", start)
                .unwrap()
                .same_channel(&one)
        );
    }
}
