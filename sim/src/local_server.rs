//! How every stand-in runs: an axum app on an ephemeral port of 127.0.0.1, served by a task of its own
//! until the last clone of its [`LocalServer`] handle is dropped, and the log of the requests it
//! received, kept for tests to assert on.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use tokio::sync::oneshot;
use url::Url;

/// A running stand-in: the state its routes share, the URL a client is configured with, and the stop
/// signal of its server task. Clones share all three; the server stops when the last one is dropped.
/// It dereferences to the shared state, which each stand-in's handle exposes through its own methods.
pub(crate) struct LocalServer<S> {
    shared: Arc<S>,
    base_url: Url,
    _stop: Arc<StopOnDrop>,
}

impl<S> Clone for LocalServer<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            base_url: self.base_url.clone(),
            _stop: self._stop.clone(),
        }
    }
}

impl<S: Send + Sync + 'static> LocalServer<S> {
    /// Serves `routes` with `shared` as their state on an ephemeral local port. `name` labels its log
    /// line; `root` is the path the service's API starts at, such as `/v1`, or empty.
    pub(crate) async fn start(
        shared: S,
        routes: Router<Arc<S>>,
        name: &'static str,
        root: &str,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(shared);
        let app = routes.with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            // Like a production HTTP server, the stand-in sends each streamed chunk (a token, a piece
            // of speech) as it is written.
            if let Err(error) = axum::serve(sicha::http::without_nagle(listener), app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "{name} stand-in stopped");
            }
        });
        let base_url =
            Url::parse(&format!("http://{address}{root}")).expect("a socket address makes a URL");
        Ok(Self {
            shared,
            base_url,
            _stop: Arc::new(StopOnDrop(Some(stop))),
        })
    }

    /// The URL a client is configured with: the address and the API root.
    pub(crate) fn base_url(&self) -> Url {
        self.base_url.clone()
    }
}

impl<S> Deref for LocalServer<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.shared
    }
}

/// Stops the server when dropped.
struct StopOnDrop(Option<oneshot::Sender<()>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

/// Every request a stand-in received, oldest first, refused ones included.
pub(crate) struct RequestLog<T> {
    requests: Mutex<Vec<T>>,
}

impl<T> Default for RequestLog<T> {
    fn default() -> Self {
        Self {
            requests: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Clone> RequestLog<T> {
    pub(crate) fn record(&self, request: T) {
        self.lock().push(request);
    }

    /// A copy of the log so far.
    pub(crate) fn all(&self) -> Vec<T> {
        self.lock().clone()
    }

    pub(crate) fn count(&self, matching: impl Fn(&T) -> bool) -> usize {
        self.lock()
            .iter()
            .filter(|request| matching(request))
            .count()
    }

    /// Changes the latest request that `matching` picks (an outcome decided after it was logged).
    pub(crate) fn update_last(&self, matching: impl Fn(&T) -> bool, update: impl FnOnce(&mut T)) {
        if let Some(request) = self
            .lock()
            .iter_mut()
            .rev()
            .find(|request| matching(request))
        {
            update(request);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        self.requests.lock().expect("request log lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_order_and_updates_the_latest_match() {
        let log = RequestLog::default();
        for request in [("chat", 200), ("speech", 200), ("chat", 200)] {
            log.record(request);
        }
        log.update_last(
            |(endpoint, _)| *endpoint == "chat",
            |request| request.1 = 500,
        );
        assert_eq!(log.all(), [("chat", 200), ("speech", 200), ("chat", 500)]);
        assert_eq!(log.count(|(endpoint, _)| *endpoint == "chat"), 2);
    }
}
