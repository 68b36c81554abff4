//! A local stand-in for an OpenAI-compatible server: transcriptions, streamed chat completions and
//! speech, on one ephemeral port. What it hears and answers is scripted, latency follows a named
//! [`SimProfile`], failures can be injected per endpoint, and every request is logged for assertions.
//! Tests use it now; `sicha demo` and `sicha bench` run whole calls against it.
//!
//! - transcriptions: a FIFO of scripted transcripts; once it is empty, the text of the known line
//!   the upload's audio is recognised as (`recognition`); else a default. `json` or `verbose_json`.
//! - chat: rules (`chat_script`) matched against the last user message; tokens are the reply's
//!   words, tool calls are streamed in argument fragments as OpenAI does; a default reply echoes
//!   the caller.
//! - speech: Hebrew speech from espeak-ng when installed, else a tone as long as the text would be.
//! - realtime: the Realtime API's transcription mode on a WebSocket (`realtime`): μ-law appended,
//!   each commit heard as an upload would be, its text as deltas and a completed event; a socket
//!   can be made to break after a commit.

mod chat;
mod chat_script;
mod profile;
mod realtime;
mod recognition;
mod speech;
mod transcriptions;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use url::Url;

use super::local_server::{LocalServer, RequestLog};
use recognition::UtteranceLibrary;

use sicha::config::Secret;

pub use chat_script::{
    ALREADY_DONE_REPLY, ChatRule, FAILED_TOOL_REPLY, READ_BACK_REPLY, SimToolCall,
};
pub use profile::SimProfile;
pub use speech::SimAudioSource;
pub use transcriptions::SimTranscript;

/// OpenAI's upload limit, with room for the multipart framing.
const MAX_BODY_BYTES: usize = 26 * 1024 * 1024;

/// Which endpoint a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimEndpoint {
    Transcriptions,
    ChatCompletions,
    Speech,
    /// A realtime transcription socket asked for (the upgrade request).
    Realtime,
    /// A `session.update` on a realtime socket; its JSON is the session asked for.
    RealtimeSession,
    /// An `input_audio_buffer.commit` on a realtime socket: one turn to transcribe.
    RealtimeCommit,
    /// Anything else, answered 404.
    Other,
}

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub endpoint: SimEndpoint,
    pub model: Option<String>,
    /// A one-line description for logs: model, format, sizes, the start of the text.
    pub summary: String,
    /// Multipart text fields in the order sent (transcriptions).
    pub fields: Vec<(String, String)>,
    /// The JSON body (chat, speech).
    pub json: Option<Value>,
    /// The `Authorization` header as received, kept as a secret so it never prints.
    pub authorization: Option<Secret>,
    pub received_at: Instant,
    /// The status the stand-in answered with.
    pub status: u16,
}

impl SimRequest {
    fn new(endpoint: SimEndpoint, headers: &HeaderMap) -> Self {
        Self {
            endpoint,
            model: None,
            summary: String::new(),
            fields: Vec::new(),
            json: None,
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .map(Secret::new),
            received_at: Instant::now(),
            status: 200,
        }
    }

    /// A multipart text field by name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Handle to a running stand-in; clones share it, and the server stops when the last one is dropped.
#[derive(Clone)]
pub struct OpenAiSim {
    server: LocalServer<Shared>,
}

struct Shared {
    state: Mutex<SimState>,
    requests: RequestLog<SimRequest>,
    started_at: Instant,
}

struct SimState {
    profile: SimProfile,
    api_key: Option<Secret>,
    /// Per endpoint: how many more requests fail, and with which status.
    failures: HashMap<SimEndpoint, (u32, StatusCode)>,
    transcripts: VecDeque<SimTranscript>,
    /// Shared with transcriptions in progress, so matching runs outside the lock.
    utterances: Arc<UtteranceLibrary>,
    default_transcript: String,
    chat_rules: Vec<ChatRule>,
    /// How many more streams are cut, and after how many tokens.
    cut_streams: (u32, usize),
    /// How many more realtime commits drop their socket once acknowledged.
    realtime_breaks_left: u32,
    cancelled_streams: usize,
    speech_empty_left: u32,
    speech_silence_left: u32,
    espeak_enabled: bool,
    speech_cache: HashMap<String, axum::body::Bytes>,
    next_id: u64,
}

impl OpenAiSim {
    /// Starts on 127.0.0.1 at an ephemeral port with the given latency profile.
    pub async fn start(profile: SimProfile) -> std::io::Result<Self> {
        let shared = Shared {
            state: Mutex::new(SimState {
                profile,
                api_key: None,
                failures: HashMap::new(),
                transcripts: VecDeque::new(),
                utterances: Arc::default(),
                default_transcript: transcriptions::DEFAULT_TRANSCRIPT.to_string(),
                chat_rules: Vec::new(),
                cut_streams: (0, 0),
                realtime_breaks_left: 0,
                cancelled_streams: 0,
                speech_empty_left: 0,
                speech_silence_left: 0,
                espeak_enabled: true,
                speech_cache: HashMap::new(),
                next_id: 0,
            }),
            requests: RequestLog::default(),
            started_at: Instant::now(),
        };
        let routes = Router::new()
            .route("/v1/audio/transcriptions", post(transcriptions::handle))
            .route("/v1/chat/completions", post(chat::handle))
            .route("/v1/audio/speech", post(speech::handle))
            .route("/v1/realtime", get(realtime::handle))
            .route("/v1/models", get(models))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        let server = LocalServer::start(shared, routes, "OpenAI-compatible", "/v1").await?;
        Ok(Self { server })
    }

    /// The versioned root to give a client, ending in `/v1`.
    pub fn base_url(&self) -> Url {
        self.server.base_url()
    }

    /// When the stand-in started, to turn [`SimRequest::received_at`] into offsets.
    pub fn started_at(&self) -> Instant {
        self.server.started_at
    }

    pub fn profile(&self) -> SimProfile {
        self.state().profile
    }

    /// Changes the latency of requests that arrive from now on.
    pub fn set_profile(&self, profile: SimProfile) {
        self.state().profile = profile;
    }

    /// From now on, requests without `Authorization: Bearer <key>` get 401 as from OpenAI.
    pub fn require_api_key(&self, key: &str) {
        self.state().api_key = Some(Secret::new(key));
    }

    /// Queues what the next transcriptions hear, oldest first.
    pub fn push_transcripts<T: Into<SimTranscript>>(&self, items: impl IntoIterator<Item = T>) {
        self.state()
            .transcripts
            .extend(items.into_iter().map(Into::into));
    }

    /// Teaches transcriptions that `samples_8k` (8 kHz PCM) says `text`: once the queue is empty, an
    /// upload holding that audio is heard as `text`. The same text and audio taught again is
    /// remembered once, so many calls can teach their lines without the library growing.
    pub fn learn_utterance(&self, text: &str, samples_8k: &[i16]) {
        let mut state = self.state();
        if !state.utterances.knows(text, samples_8k) {
            Arc::make_mut(&mut state.utterances).learn(text, samples_8k);
        }
    }

    /// How many distinct lines transcriptions can recognise.
    pub fn known_utterances(&self) -> usize {
        self.state().utterances.len()
    }

    /// What transcriptions hear once the queue is empty and the audio is no known line.
    pub fn set_default_transcript(&self, text: &str) {
        self.state().default_transcript = text.to_string();
    }

    /// Adds a chat rule; the first rule whose phrase the last user message contains answers, so a
    /// rule equal to one already added would never answer and is not kept.
    pub fn add_chat_rule(&self, rule: ChatRule) {
        let mut state = self.state();
        if !state.chat_rules.contains(&rule) {
            state.chat_rules.push(rule);
        }
    }

    /// The next `count` requests to `endpoint` get `status` with OpenAI's error JSON.
    pub fn fail_next(&self, endpoint: SimEndpoint, count: u32, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        self.state().failures.insert(endpoint, (count, status));
    }

    /// The next `count` streamed chat answers end after `after_tokens` tokens, without a finish
    /// reason or `[DONE]`, as when a connection drops mid-answer.
    pub fn cut_next_streams(&self, count: u32, after_tokens: usize) {
        self.state().cut_streams = (count, after_tokens);
    }

    /// The next `count` realtime commits are acknowledged, then their socket is dropped without a
    /// close frame, as when the network fails: the turn gets no transcript.
    pub fn break_realtime_next(&self, count: u32) {
        self.state().realtime_breaks_left = count;
    }

    /// The next `count` speech requests succeed with no audio at all.
    pub fn speech_empty_next(&self, count: u32) {
        self.state().speech_empty_left = count;
    }

    /// The next `count` speech requests succeed with silence as long as the speech would be.
    pub fn speech_silence_next(&self, count: u32) {
        self.state().speech_silence_left = count;
    }

    /// Whether speech may use espeak-ng (on by default); off gives the tone, fast and identical everywhere.
    pub fn set_espeak(&self, enabled: bool) {
        self.state().espeak_enabled = enabled;
    }

    /// Every request so far, oldest first, refused ones included.
    pub fn requests(&self) -> Vec<SimRequest> {
        self.server.requests.all()
    }

    /// How many requests reached `endpoint`.
    pub fn count(&self, endpoint: SimEndpoint) -> usize {
        self.server.requests.count(|r| r.endpoint == endpoint)
    }

    /// Streamed answers (chat or speech) whose client went away before the end.
    pub fn cancelled_streams(&self) -> usize {
        self.state().cancelled_streams
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.server.state()
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().expect("stand-in state lock")
    }

    /// Logs the request and decides whether it is served: a missing key, an injected failure or an
    /// `invalid` request is answered here, as OpenAI would, and logged with that status. Returns the
    /// refusal to send, or `None` when the request is to be served.
    fn admit(&self, mut request: SimRequest, invalid: Option<String>) -> Option<Response> {
        let mut state = self.state();
        let authorized = match &state.api_key {
            None => true,
            Some(key) => request
                .authorization
                .as_ref()
                .is_some_and(|seen| seen.expose() == format!("Bearer {}", key.expose())),
        };
        let refusal = if !authorized {
            Some(openai_error(
                StatusCode::UNAUTHORIZED,
                "Incorrect API key provided.",
                "invalid_request_error",
            ))
        } else if let Some(status) = take_failure(&mut state.failures, request.endpoint) {
            Some(openai_error(status, "Injected failure.", "server_error"))
        } else {
            invalid.map(|message| {
                openai_error(StatusCode::BAD_REQUEST, &message, "invalid_request_error")
            })
        };
        request.status = refusal
            .as_ref()
            .map_or(request.status, |r| r.status().as_u16());
        // Logged before the state is released, so the log keeps the order of the decisions.
        self.requests.record(request);
        drop(state);
        refusal
    }

    /// Logs and refuses a request that cannot even be read.
    fn refuse(&self, request: SimRequest, message: String) -> Response {
        self.admit(request, Some(message))
            .expect("an invalid request is never admitted")
    }

    /// Logs and refuses a request whose JSON body does not parse, as OpenAI refuses it.
    fn refuse_unparseable(&self, mut request: SimRequest, error: &serde_json::Error) -> Response {
        request.summary = "unparseable JSON body".to_string();
        let message = format!("We could not parse the JSON body of your request: {error}");
        self.refuse(request, message)
    }

    /// Changes the logged status of the latest request to `endpoint` (a scripted failure decided later).
    fn set_last_status(&self, endpoint: SimEndpoint, status: u16) {
        self.requests
            .update_last(|r| r.endpoint == endpoint, |r| r.status = status);
    }

    fn next_id(&self) -> u64 {
        let mut state = self.state();
        state.next_id += 1;
        state.next_id
    }
}

fn take_failure(
    failures: &mut HashMap<SimEndpoint, (u32, StatusCode)>,
    endpoint: SimEndpoint,
) -> Option<StatusCode> {
    let (left, status) = failures.get_mut(&endpoint)?;
    if *left == 0 {
        return None;
    }
    *left -= 1;
    Some(*status)
}

/// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
fn openai_error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The start of a text for a log line.
fn preview(text: &str) -> String {
    const SHOWN_CHARS: usize = 60;
    let mut shown: String = text.chars().take(SHOWN_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

async fn models() -> Response {
    let ids = [
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o",
        "tts-1",
        "gpt-4o-mini-tts",
    ];
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "sim"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    openai_error(
        StatusCode::NOT_FOUND,
        &format!("Unknown request URL: {}", uri.path()),
        "invalid_request_error",
    )
}
