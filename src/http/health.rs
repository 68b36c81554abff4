//! Liveness, readiness (the database, the phrase warm-up, draining) and metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the database: a load balancer asks often and must hear at once.
pub const READY_PING_WAIT: Duration = Duration::from_secs(1);

/// The database answers within [`READY_PING_WAIT`], the fixed phrases are ready, and the instance is
/// not shutting down: a load balancer should send calls here.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    if !state.warm_up.is_over() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "synthesising the fixed phrases",
        );
    }
    match tokio::time::timeout(READY_PING_WAIT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => {
            tracing::warn!(
                wait_ms = READY_PING_WAIT.as_millis() as u64,
                "readiness check: the database did not answer in time"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "database not answering")
        }
    }
}

/// Whether a fresh instance's first warm-up of its spoken phrases is over: done, or given up after
/// its wait. Cheap to clone; every clone sees the same state.
#[derive(Debug, Clone)]
pub struct WarmUp(Arc<AtomicBool>);

impl WarmUp {
    /// A warm-up still to happen.
    pub fn pending() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    /// Nothing to warm (an agent without speech synthesis).
    pub fn not_needed() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    pub fn finish(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_over(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Prometheus text format, on the metrics listener of its own (`SICHA_METRICS_BIND`).
pub async fn metrics(State(state): State<AppState>) -> String {
    metrics::gauge!("sicha_live_calls").set(state.calls.registry.live_calls() as f64);
    state.metrics.render()
}

/// `/metrics` on the main listener, which faces the internet: only with `Authorization: Bearer
/// <SICHA_METRICS_TOKEN>`. Anything else gets 404, as if there were no such page.
pub async fn metrics_for_bearer(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let allowed = state
        .settings
        .metrics
        .token
        .as_ref()
        .is_some_and(|token| bearer_matches(&headers, token.expose()));
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    metrics(State(state)).await.into_response()
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in constant time.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(bearer_matches(&with("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cretX"), "s3cret"));
        assert!(!bearer_matches(&with("s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
    }
}
