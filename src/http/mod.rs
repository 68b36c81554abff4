//! HTTP routes and the state they share.
//! - [`twilio_auth`] who may call the Twilio routes: signature checks and the public URL.
//! - [`voice`]       `POST /twilio/voice`: the call webhook, answers TwiML.
//! - [`status`]      `POST /twilio/status` and `POST /twilio/stream-status`: Twilio's callbacks.
//! - [`callback`]    the same voice and status routes for a call-back sicha placed: answered, or not.
//! - [`stream`]      `GET /twilio/stream`: the Media Streams WebSocket.
//! - [`health`]      `/healthz`, `/readyz`, `/metrics` (here behind a bearer token, or on a listener of
//!   its own: [`metrics_router`]).

pub mod callback;
pub mod health;
pub mod status;
pub mod stream;
pub mod twilio_auth;
pub mod voice;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::store::Store;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    pub settings: Settings,
    pub store: Store,
    /// What the calls share (the record writer, the registry of live calls, the stream token key,
    /// the agent and its mode, the outbox notifier): the one place these handles are kept.
    pub calls: crate::call::context::CallServices,
    pub allow_unsigned: bool,
    pub metrics: PrometheusHandle,
    /// Set when shutdown begins: new calls are turned away politely, live ones run on.
    pub draining: AtomicBool,
    /// Over once the fixed phrases are synthesised (or their wait ran out): until then not ready.
    pub warm_up: health::WarmUp,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppInner {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/twilio/voice", post(voice::voice_webhook))
        .route("/twilio/status", post(status::call_status))
        .route("/twilio/stream-status", post(status::stream_status))
        .route("/twilio/stream", get(stream::stream_upgrade))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics_for_bearer))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state.clone())
        .merge(crate::web::router(state))
}

/// The metrics listener's routes (`SICHA_METRICS_BIND`): `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(state)
}

/// A listener whose connections send each write at once, with Nagle's algorithm off.
pub type NoDelayListener =
    axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>;

/// Turns Nagle's algorithm off on every accepted connection. A call's socket carries many small
/// messages each way (a mark, a `clear`, a short piece of speech): with Nagle on, one written while
/// an earlier one is unacknowledged waits for the peer's ACK, which a delayed ACK holds back by up to
/// 40 ms, and a barge-in's `clear` is exactly such a message.
pub fn without_nagle(listener: tokio::net::TcpListener) -> NoDelayListener {
    use axum::serve::ListenerExt;
    fn no_delay(socket: &mut tokio::net::TcpStream) {
        if let Err(error) = socket.set_nodelay(true) {
            tracing::warn!(%error, "could not turn Nagle's algorithm off on a connection");
        }
    }
    listener.tap_io(no_delay as fn(&mut tokio::net::TcpStream))
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let mut listener = super::without_nagle(listener);
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
