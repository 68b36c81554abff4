//! A local stand-in for ElevenLabs `POST /v1/text-to-speech/{voice_id}/stream`. It checks the
//! `xi-api-key` header, validates the JSON body (`text` required, `model_id` recorded), answers
//! failures in ElevenLabs' `{"detail":{"status","message"}}` shape (422 with a `detail` list for a
//! malformed body), and streams raw μ-law 8 kHz (`output_format=ulaw_8000`) in paced chunks, so a
//! client sees audio arrive piece by piece. The speech is espeak-ng Hebrew when installed, a tone
//! otherwise; failures, empty audio, silence and delay can be injected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt as _;
use serde_json::{Value, json};
use sicha_audio::mulaw;
use url::Url;

use super::google_tts::{Injected, Injections, speech_8k};
use super::local_server::{LocalServer, RequestLog};

/// 100 ms of μ-law per streamed chunk.
const CHUNK_BYTES: usize = 800;

/// One request as the stand-in received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevenLabsRequest {
    pub voice_id: String,
    pub output_format: Option<String>,
    pub text: Option<String>,
    pub model_id: Option<String>,
    pub authorized: bool,
}

/// Handle to a running stand-in; clones share it, and the server stops when the last one is dropped.
#[derive(Clone)]
pub struct ElevenLabsSim {
    server: LocalServer<Shared>,
}

struct Shared {
    api_key: String,
    injections: Injections,
    chunk_interval: Mutex<Duration>,
    requests: RequestLog<ElevenLabsRequest>,
}

impl ElevenLabsSim {
    /// Starts on an ephemeral port, accepting the key `sim-elevenlabs-key`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_key("sim-elevenlabs-key").await
    }

    pub async fn start_with_key(api_key: &str) -> std::io::Result<Self> {
        let shared = Shared {
            api_key: api_key.to_string(),
            injections: Injections::default(),
            chunk_interval: Mutex::new(Duration::from_millis(5)),
            requests: RequestLog::default(),
        };
        let routes = Router::new()
            .route("/v1/text-to-speech/{voice_id}/stream", post(stream_speech))
            .fallback(|| async { detail_error(StatusCode::NOT_FOUND, "not_found", "Not Found") });
        let server = LocalServer::start(shared, routes, "ElevenLabs", "").await?;
        Ok(Self { server })
    }

    /// The root to configure instead of `https://api.elevenlabs.io`.
    pub fn base_url(&self) -> Url {
        self.server.base_url()
    }
    pub fn api_key(&self) -> &str {
        &self.server.api_key
    }
    /// Every request so far, oldest first, including refused ones.
    pub fn requests(&self) -> Vec<ElevenLabsRequest> {
        self.server.requests.all()
    }
    pub fn injections(&self) -> &Injections {
        &self.server.injections
    }
    /// The pause between streamed chunks (5 ms unless set).
    pub fn set_chunk_interval(&self, interval: Duration) {
        *self.server.chunk_interval.lock().expect("interval lock") = interval;
    }
}

async fn stream_speech(
    State(shared): State<Arc<Shared>>,
    Path(voice_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers.get("xi-api-key").and_then(|v| v.to_str().ok());
    let authorized = key == Some(shared.api_key.as_str());
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |name: &str| {
        let value = json.as_ref().and_then(|json| json.get(name));
        value.and_then(Value::as_str).map(str::to_string)
    };
    let request = ElevenLabsRequest {
        voice_id,
        output_format: query.get("output_format").cloned(),
        text: field("text"),
        model_id: field("model_id"),
        authorized,
    };
    shared.requests.record(request.clone());
    if !authorized {
        return detail_error(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Invalid API key",
        );
    }
    let text = match request.text.as_deref() {
        Some(text) if !text.trim().is_empty() => text,
        _ => return missing_text(),
    };
    match request.output_format.as_deref() {
        None | Some("ulaw_8000") => {}
        Some(other) => {
            let message = format!("The stand-in streams ulaw_8000 only, not {other}.");
            return detail_error(StatusCode::BAD_REQUEST, "invalid_output_format", &message);
        }
    }
    let samples = match shared.injections.take_next().await {
        Injected::Fail(status) => {
            return detail_error(status, "injected_failure", "Injected failure.");
        }
        Injected::Empty => Vec::new(),
        Injected::Silence => vec![0; speech_8k(text).await.len()],
        Injected::Nothing => speech_8k(text).await,
    };
    let mut codes = vec![0u8; samples.len()];
    mulaw::encode_into(&samples, &mut codes);
    let interval = *shared.chunk_interval.lock().expect("interval lock");
    let chunks: Vec<Bytes> = codes
        .chunks(CHUNK_BYTES)
        .map(Bytes::copy_from_slice)
        .collect();
    let paced = futures::stream::iter(chunks).then(move |chunk| async move {
        if !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
        Ok::<_, std::io::Error>(chunk)
    });
    (
        [(header::CONTENT_TYPE, "audio/basic")],
        Body::from_stream(paced),
    )
        .into_response()
}

/// The validation answer for a body without `text`.
fn missing_text() -> Response {
    let body = json!({"detail": [{
        "type": "missing",
        "loc": ["body", "text"],
        "msg": "Field required",
    }]});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

fn detail_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"detail": {"status": code, "message": message}});
    (status, Json(body)).into_response()
}
