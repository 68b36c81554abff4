//! HTTP routes and the state they share.
//! - [`twilio_auth`] who may call the Twilio routes: signature checks and the public URL.
//! - [`voice`]       `POST /twilio/voice`: the call webhook, answers TwiML.
//! - [`status`]      `POST /twilio/status` and `POST /twilio/stream-status`: Twilio's callbacks.
//! - [`stream`]      `GET /twilio/stream`: the Media Streams WebSocket.
//! - [`health`]      `/healthz`, `/readyz`, `/metrics`.

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

use crate::call::Registry;
use crate::call::session::AgentMode;
use crate::config::Settings;
use crate::store::{RecordWriter, Store};
use crate::twilio::token::StreamTokenKey;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    pub settings: Settings,
    pub store: Store,
    /// Live calls' records, committed behind the calls (see [`crate::store::writer`]).
    pub records: RecordWriter,
    pub registry: Registry,
    pub token_key: StreamTokenKey,
    pub allow_unsigned: bool,
    pub mode: AgentMode,
    /// The AI agent's providers and phrase cache, in [`AgentMode::Ai`].
    pub agent: Option<Arc<crate::call::agent::Agent>>,
    /// Wakes the outbox worker when a call's end queues deliveries.
    pub outbox: Option<crate::deliveries::worker::OutboxNotifier>,
    pub metrics: PrometheusHandle,
    /// Set when shutdown begins: new calls are turned away politely, live ones run on.
    pub draining: AtomicBool,
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
        .route("/metrics", get(health::metrics))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state.clone())
        .merge(crate::web::router(state))
}
