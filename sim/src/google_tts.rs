//! A local stand-in for Google Cloud Text-to-Speech `POST /v1/text:synthesize`. It checks the key
//! (`X-goog-api-key` header or `?key=`), validates the JSON body as Google does, answers failures in
//! Google's `{"error":{"code","message","status"}}` shape, and returns base64 audio in a WAV container
//! (μ-law or 16-bit at 8 kHz) holding real Hebrew speech from espeak-ng when it is installed, a tone
//! otherwise. Failures, empty audio, silence and delay can be injected.
//!
//! The pieces both TTS stand-ins share (injections, the speech source) live here too; the ElevenLabs
//! stand-in uses them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use serde_json::{Value, json};
use sicha_audio::mulaw;
use sicha_audio::wav::{mulaw_wav_bytes, pcm16_to_wav_bytes};
use url::Url;

use super::local_server::{LocalServer, RequestLog};

use sicha::providers::tts::{EspeakConfig, EspeakTts, Tts};

const MAX_INPUT_BYTES: usize = 5000;

/// One request as the stand-in received it.
#[derive(Debug, Clone, PartialEq)]
pub struct GoogleTtsRequest {
    pub text: Option<String>,
    pub language_code: Option<String>,
    pub voice_name: Option<String>,
    pub audio_encoding: Option<String>,
    pub sample_rate_hertz: Option<u64>,
    pub authorized: bool,
}

/// Handle to a running stand-in; clones share it, and the server stops when the last one is dropped.
#[derive(Clone)]
pub struct GoogleTtsSim {
    server: LocalServer<Shared>,
}

struct Shared {
    api_key: String,
    injections: Injections,
    requests: RequestLog<GoogleTtsRequest>,
}

impl GoogleTtsSim {
    /// Starts on an ephemeral port, accepting the key `sim-google-key`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_key("sim-google-key").await
    }

    pub async fn start_with_key(api_key: &str) -> std::io::Result<Self> {
        let shared = Shared {
            api_key: api_key.to_string(),
            injections: Injections::default(),
            requests: RequestLog::default(),
        };
        let routes = Router::new()
            .route("/v1/text:synthesize", post(synthesize))
            .fallback(|| async { google_error(StatusCode::NOT_FOUND, "Method not found.") });
        let server = LocalServer::start(shared, routes, "Google TTS", "").await?;
        Ok(Self { server })
    }

    /// The root to configure instead of `https://texttospeech.googleapis.com`.
    pub fn base_url(&self) -> Url {
        self.server.base_url()
    }
    pub fn api_key(&self) -> &str {
        &self.server.api_key
    }
    /// Every request so far, oldest first, including refused ones.
    pub fn requests(&self) -> Vec<GoogleTtsRequest> {
        self.server.requests.all()
    }
    pub fn injections(&self) -> &Injections {
        &self.server.injections
    }
}

async fn synthesize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|value| value.to_str().ok())
        .or(query.get("key").map(String::as_str));
    let authorized = key == Some(shared.api_key.as_str());
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |pointer: &str| {
        let value = json.as_ref().and_then(|json| json.pointer(pointer));
        value.and_then(Value::as_str).map(str::to_string)
    };
    let request = GoogleTtsRequest {
        text: field("/input/text"),
        language_code: field("/voice/languageCode"),
        voice_name: field("/voice/name"),
        audio_encoding: field("/audioConfig/audioEncoding"),
        sample_rate_hertz: json
            .as_ref()
            .and_then(|json| json.pointer("/audioConfig/sampleRateHertz"))
            .and_then(Value::as_u64),
        authorized,
    };
    shared.requests.record(request.clone());
    match key {
        None => {
            let message = "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";
            return google_error(StatusCode::FORBIDDEN, message);
        }
        Some(_) if !authorized => {
            let message = "API key not valid. Please pass a valid API key.";
            return google_error(StatusCode::BAD_REQUEST, message);
        }
        Some(_) => {}
    }
    if let Err(message) = validate(json.as_ref(), &request) {
        return google_error(StatusCode::BAD_REQUEST, &message);
    }
    let injected = shared.injections.take_next().await;
    let linear16 = request.audio_encoding.as_deref() == Some("LINEAR16");
    let samples = match injected {
        Injected::Fail(status) => return google_error(status, "Injected failure."),
        Injected::Empty => Vec::new(),
        Injected::Silence => vec![0; speech_8k(request.text.as_deref().unwrap_or("")).await.len()],
        Injected::Nothing => speech_8k(request.text.as_deref().unwrap_or("")).await,
    };
    let wav = if linear16 {
        pcm16_to_wav_bytes(&samples, 8000)
    } else {
        let mut codes = vec![0u8; samples.len()];
        mulaw::encode_into(&samples, &mut codes);
        mulaw_wav_bytes(&codes)
    };
    Json(json!({ "audioContent": STANDARD.encode(wav) })).into_response()
}

/// Google's checks on the body, as far as the stand-in serves it.
fn validate(json: Option<&Value>, request: &GoogleTtsRequest) -> Result<(), String> {
    let Some(json) = json.filter(|json| json.is_object()) else {
        return Err("Invalid JSON payload received.".to_string());
    };
    let text = request.text.as_deref().unwrap_or("");
    if json.pointer("/input/ssml").is_some() {
        return Err("The stand-in does not speak SSML.".to_string());
    }
    if text.is_empty() {
        return Err("Either `input.text` or `input.ssml` needs to be set.".to_string());
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "Either `input.text` or `input.ssml` is longer than the limit of {MAX_INPUT_BYTES} bytes. This limit is different from quotas."
        ));
    }
    if request.language_code.is_none() {
        return Err("Invalid value at 'voice.language_code': a language code is required.".into());
    }
    match request.audio_encoding.as_deref() {
        Some("MULAW" | "LINEAR16") => {}
        Some(other) => {
            return Err(format!(
                "The stand-in serves MULAW and LINEAR16, not {other}."
            ));
        }
        None => return Err("AudioConfig.audio_encoding is unspecified.".to_string()),
    }
    match request.sample_rate_hertz {
        None | Some(8000) => Ok(()),
        Some(other) => Err(format!("The stand-in serves 8000 Hz only, not {other}.")),
    }
}

fn google_error(status: StatusCode, message: &str) -> Response {
    let name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    (status, Json(body)).into_response()
}

/// What the next request gets instead of an ordinary answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    Nothing,
    Fail(StatusCode),
    Empty,
    Silence,
}

/// Failure injection shared by the TTS stand-ins: each kind applies to the next N requests that get
/// past authentication and validation; the delay applies to every answer.
#[derive(Debug, Default)]
pub struct Injections {
    state: Mutex<InjectionState>,
}

#[derive(Debug, Default)]
struct InjectionState {
    fail: Option<(u32, StatusCode)>,
    empty: u32,
    silence: u32,
    delay: Duration,
}

impl Injections {
    /// The next `count` requests fail with `status` in the service's error shape.
    pub fn fail_next(&self, count: u32, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        self.state().fail = Some((count, status));
    }
    /// The next `count` requests succeed with no audio at all.
    pub fn empty_next(&self, count: u32) {
        self.state().empty = count;
    }
    /// The next `count` requests succeed with digital silence as long as the speech would be.
    pub fn silence_next(&self, count: u32) {
        self.state().silence = count;
    }
    /// Every answer waits this long before it starts.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, InjectionState> {
        self.state.lock().expect("injection lock")
    }

    /// Waits out the delay, then consumes one injection (failures first).
    pub(crate) async fn take_next(&self) -> Injected {
        let delay = self.state().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut state = self.state();
        if let Some((count, status)) = state.fail {
            state.fail = (count > 1).then_some((count - 1, status));
            if count > 0 {
                return Injected::Fail(status);
            }
        }
        if state.empty > 0 {
            state.empty -= 1;
            return Injected::Empty;
        }
        if state.silence > 0 {
            state.silence -= 1;
            return Injected::Silence;
        }
        Injected::Nothing
    }
}

/// Hebrew speech for `text` at 8 kHz: espeak-ng when installed, else a tone of similar length.
pub(crate) async fn speech_8k(text: &str) -> Vec<i16> {
    let espeak = Tts::Espeak(EspeakTts::new(EspeakConfig::default()));
    if let Ok(mut stream) = espeak.synthesize(text, None).await {
        let mut samples = Vec::new();
        let mut complete = true;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => samples.extend(chunk),
                Err(_) => complete = false,
            }
        }
        if complete && !samples.is_empty() {
            return samples;
        }
    }
    tone_8k(text.chars().count())
}

/// 440 Hz at a speaking pace of about 70 ms per character.
fn tone_8k(chars: usize) -> Vec<i16> {
    let len = (chars * 560).max(2400);
    (0..len)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * 440.0 * i as f64 / 8000.0;
            (phase.sin() * 8000.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn injections_apply_in_order_and_run_out() {
        let injections = Injections::default();
        injections.fail_next(2, 503);
        injections.empty_next(1);
        injections.silence_next(1);
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(injections.take_next().await);
        }
        let unavailable = Injected::Fail(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            seen,
            vec![
                unavailable,
                unavailable,
                Injected::Empty,
                Injected::Silence,
                Injected::Nothing
            ]
        );
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let request = |text: &str, encoding: Option<&str>| GoogleTtsRequest {
            text: Some(text.to_string()),
            language_code: Some("he-IL".to_string()),
            voice_name: None,
            audio_encoding: encoding.map(str::to_string),
            sample_rate_hertz: Some(8000),
            authorized: true,
        };
        let body = json!({"input": {"text": "x"}});
        assert!(validate(Some(&body), &request("שלום", Some("MULAW"))).is_ok());
        let long = "ש".repeat(2501);
        let too_long = validate(Some(&body), &request(&long, Some("MULAW"))).unwrap_err();
        assert!(too_long.contains("5000 bytes"), "{too_long}");
        assert!(validate(Some(&body), &request("x", None)).is_err());
        assert!(validate(None, &request("x", Some("MULAW"))).is_err());
    }
}
