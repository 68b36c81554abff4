//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers; a load balancer should send calls here.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> String {
    metrics::gauge!("sicha_live_calls").set(state.registry.live_calls() as f64);
    state.metrics.render()
}
