//! `GET /v1/realtime?intent=transcription`: the Realtime API's transcription mode on a WebSocket.
//!
//! `session.created` on connect. `session.update` must ask for a transcription session of
//! `audio/pcmu` with a model, a language and `turn_detection: null` (sicha commits its own turns);
//! anything else is answered with an `error` event, as are audio before such a session, bad base64
//! and unknown event types. Appended μ-law is kept until a commit, which is acknowledged
//! (`input_audio_buffer.committed`, then `conversation.item.added`) and transcribed as an upload
//! would be (`transcriptions::Hearing`: the scripted queue, then the known line the audio says,
//! then the default); the text comes as deltas of a few words and a `completed` event spread over
//! the profile's `realtime_stt_ms`, or as a `failed` event for a scripted failure. A commit of
//! under 100 ms is refused as OpenAI refuses it.
//!
//! Logged: the upgrade ([`SimEndpoint::Realtime`], 101 or the refusal's status), each
//! `session.update` ([`SimEndpoint::RealtimeSession`], 200 or 400 with the session as JSON) and each
//! commit ([`SimEndpoint::RealtimeCommit`], 200, 400 when refused, or 503 when its socket was made
//! to break).

mod turn;

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::transcriptions::Hearing;
use super::{Shared, SimEndpoint, SimRequest, preview};

/// Events the socket may have queued for writing; the session waits when it is full.
const OUTGOING_CAPACITY: usize = 64;
/// μ-law at 8 kHz: one byte a sample.
const BYTES_PER_MS: usize = 8;
/// OpenAI refuses to commit less than 100 ms of audio.
const MIN_COMMIT_MS: usize = 100;
/// The most audio one turn may hold (ten minutes); appends beyond it are refused.
const MAX_BUFFER_BYTES: usize = 10 * 60 * 1000 * BYTES_PER_MS;

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let mut request = SimRequest::new(SimEndpoint::Realtime, &headers);
    request.summary = format!("socket ?{}", query.as_deref().unwrap_or_default());
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return shared.refuse(request, rejection.body_text()),
    };
    let for_transcription = query
        .as_deref()
        .is_some_and(|query| query.split('&').any(|pair| pair == "intent=transcription"));
    let invalid = (!for_transcription).then(|| {
        "the stand-in serves transcription sessions only: connect with ?intent=transcription"
            .to_string()
    });
    request.status = 101;
    if let Some(refused) = shared.admit(request, invalid) {
        return refused;
    }
    upgrade.on_upgrade(move |socket| serve(shared, socket, headers))
}

/// What the session hands the socket's writer.
enum Outgoing {
    Event(String),
    /// Drop the connection without a close frame.
    Break,
}

/// Sends server events, each stamped with an event id. Clones go to the transcriptions in flight.
#[derive(Clone)]
struct Outbox {
    shared: Arc<Shared>,
    /// To the writer task, which ends when every clone is gone or on a break.
    out: mpsc::Sender<Outgoing>,
}

impl Outbox {
    /// Sends `event`; after the socket is gone there is nobody to tell, and it is dropped.
    async fn send(&self, mut event: Value) {
        event["event_id"] = json!(format!("event_{}", self.shared.next_id()));
        let _ = self.out.send(Outgoing::Event(event.to_string())).await;
    }

    /// OpenAI's error event; `event_id` names the client event refused, when it had one.
    async fn error(&self, event_id: Option<&str>, code: &str, message: &str) {
        self.send(json!({"type": "error", "error": {
            "type": "invalid_request_error", "code": code, "message": message,
            "param": null, "event_id": event_id,
        }}))
        .await;
    }
}

/// The writer task: owns the socket's sending half until the session and every transcription in
/// flight are done with it (then a close frame), or until a scripted break (then just dropped).
async fn write_socket(
    mut sink: SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<Outgoing>,
) {
    while let Some(item) = outgoing.recv().await {
        match item {
            Outgoing::Event(text) => {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            Outgoing::Break => return,
        }
    }
    let _ = sink.close().await;
}

/// Whether the session goes on reading.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    /// The socket was made to break; stop reading so that the connection goes.
    Break,
}

/// One socket's session: read on the upgrade's task, written by [`write_socket`].
struct Session {
    outbox: Outbox,
    /// The upgrade's headers, for logging each event as a request of the same client.
    headers: HeaderMap,
    /// The transcription model, once a valid `session.update` set it.
    model: Option<String>,
    /// μ-law appended since the last commit or clear.
    buffer: Vec<u8>,
    previous_item: Option<String>,
}

async fn serve(shared: Arc<Shared>, socket: WebSocket, headers: HeaderMap) {
    let (sink, mut incoming) = socket.split();
    let (out, outgoing) = mpsc::channel(OUTGOING_CAPACITY);
    tokio::spawn(write_socket(sink, outgoing));
    let mut session = Session {
        outbox: Outbox { shared, out },
        headers,
        model: None,
        buffer: Vec::new(),
        previous_item: None,
    };
    let session_id = format!("sess_{}", session.outbox.shared.next_id());
    session
        .outbox
        .send(json!({"type": "session.created", "session": {
            "type": "transcription", "id": session_id, "object": "realtime.transcription_session",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}, "transcription": null,
                "turn_detection": {"type": "server_vad"}}},
        }}))
        .await;
    while let Some(Ok(message)) = incoming.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        if session.on_client_event(text.as_str()).await == Flow::Break {
            break;
        }
    }
}

impl Session {
    async fn on_client_event(&mut self, text: &str) -> Flow {
        let event: Value = match serde_json::from_str(text) {
            Ok(event) => event,
            Err(error) => {
                let message = format!("We could not parse the JSON body of your event: {error}");
                self.outbox.error(None, "invalid_json", &message).await;
                return Flow::Continue;
            }
        };
        let event_id = event["event_id"].as_str();
        match event["type"].as_str().unwrap_or_default() {
            "session.update" => self.update_session(&event["session"], event_id).await,
            "input_audio_buffer.append" => self.append(&event, event_id).await,
            "input_audio_buffer.commit" => return self.commit(event_id).await,
            "input_audio_buffer.clear" => {
                self.buffer.clear();
                self.outbox
                    .send(json!({"type": "input_audio_buffer.cleared"}))
                    .await;
            }
            other => {
                let message = format!(
                    "Invalid value: '{other}'. The stand-in supports session.update and \
                     input_audio_buffer.append, .commit and .clear."
                );
                self.outbox.error(event_id, "invalid_value", &message).await;
            }
        }
        Flow::Continue
    }

    async fn update_session(&mut self, session: &Value, event_id: Option<&str>) {
        let input = &session["audio"]["input"];
        let transcription = &input["transcription"];
        let model = transcription["model"].as_str().unwrap_or_default();
        let language = transcription["language"].as_str().unwrap_or_default();
        let prompt = transcription["prompt"].as_str();
        let mut request = SimRequest::new(SimEndpoint::RealtimeSession, &self.headers);
        request.model = Some(model.to_string()).filter(|model| !model.is_empty());
        request.summary = format!(
            "{model} {language} {}{}",
            input["format"]["type"].as_str().unwrap_or("(no format)"),
            prompt
                .map(|prompt| format!(" prompt: {}", preview(prompt)))
                .unwrap_or_default()
        );
        request.fields = [("language", Some(language)), ("prompt", prompt)]
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value?.to_string())))
            .collect();
        request.json = Some(session.clone());
        match refusal_of(session) {
            Some(message) => {
                request.status = 400;
                self.outbox.shared.requests.record(request);
                self.outbox.error(event_id, "invalid_value", &message).await;
            }
            None => {
                self.outbox.shared.requests.record(request);
                self.model = Some(model.to_string());
                self.outbox
                    .send(json!({"type": "session.updated", "session": session}))
                    .await;
            }
        }
    }

    async fn append(&mut self, event: &Value, event_id: Option<&str>) {
        if self.model.is_none() {
            return self.no_session_yet(event_id).await;
        }
        let audio = match BASE64.decode(event["audio"].as_str().unwrap_or_default()) {
            Ok(audio) => audio,
            Err(error) => {
                let message = format!("Invalid 'audio': not base64 ({error}).");
                return self.outbox.error(event_id, "invalid_value", &message).await;
            }
        };
        if self.buffer.len() + audio.len() > MAX_BUFFER_BYTES {
            let message = "the input audio buffer is full: commit or clear it";
            return self
                .outbox
                .error(event_id, "input_audio_buffer_full", message)
                .await;
        }
        self.buffer.extend_from_slice(&audio);
    }

    async fn commit(&mut self, event_id: Option<&str>) -> Flow {
        let Some(model) = self.model.clone() else {
            self.no_session_yet(event_id).await;
            return Flow::Continue;
        };
        let audio = std::mem::take(&mut self.buffer);
        let audio_ms = audio.len() / BYTES_PER_MS;
        let mut request = SimRequest::new(SimEndpoint::RealtimeCommit, &self.headers);
        request.model = Some(model.clone());
        request.summary = format!("{model} {:.2} s", audio_ms as f32 / 1000.0);
        let shared = self.outbox.shared.clone();
        if audio_ms < MIN_COMMIT_MS {
            request.status = 400;
            shared.requests.record(request);
            let message = format!(
                "Error committing input audio buffer: buffer too small. Expected at least \
                 {MIN_COMMIT_MS}ms of audio, but buffer only has {audio_ms}ms of audio."
            );
            let code = "input_audio_buffer_commit_empty";
            self.outbox.error(event_id, code, &message).await;
            return Flow::Continue;
        }
        let item_id = format!("item_{}", shared.next_id());
        let previous_item = self.previous_item.replace(item_id.clone());
        self.outbox
            .send(json!({"type": "input_audio_buffer.committed",
                "previous_item_id": previous_item, "item_id": item_id}))
            .await;
        self.outbox
            .send(
                json!({"type": "conversation.item.added", "previous_item_id": previous_item,
                "item": {"id": item_id, "type": "message", "status": "completed", "role": "user",
                    "content": [{"type": "input_audio", "transcript": null}]}}),
            )
            .await;
        let breaks = {
            let mut state = shared.state();
            let breaks = state.realtime_breaks_left > 0;
            state.realtime_breaks_left = state.realtime_breaks_left.saturating_sub(1);
            breaks
        };
        if breaks {
            request.status = 503;
            request.summary.push_str(", then the socket broke");
            shared.requests.record(request);
            let _ = self.outbox.out.send(Outgoing::Break).await;
            return Flow::Break;
        }
        shared.requests.record(request);
        let hearing = Hearing::next(&shared);
        let delay = shared.state().profile.realtime_stt_delay();
        tokio::spawn(turn::transcribe(
            self.outbox.clone(),
            hearing,
            audio,
            item_id,
            delay,
        ));
        Flow::Continue
    }

    async fn no_session_yet(&self, event_id: Option<&str>) {
        let message =
            "the stand-in expects a session.update (transcription of audio/pcmu) before audio";
        self.outbox
            .error(event_id, "session_not_ready", message)
            .await;
    }
}

/// Why the stand-in refuses a `session.update`, in words for the error event; `None` to accept it.
fn refusal_of(session: &Value) -> Option<String> {
    let input = &session["audio"]["input"];
    let transcription = &input["transcription"];
    let kind = session["type"].as_str().unwrap_or_default();
    let format = input["format"]["type"].as_str().unwrap_or_default();
    if kind != "transcription" {
        Some(format!(
            "Invalid value: '{kind}' for session.type: the stand-in serves transcription sessions only."
        ))
    } else if format != "audio/pcmu" {
        Some(format!(
            "Invalid value: '{format}' for session.audio.input.format.type: the stand-in takes \
             audio/pcmu (8 kHz μ-law) only."
        ))
    } else if transcription["model"].as_str().is_none_or(str::is_empty) {
        Some("session.audio.input.transcription.model is required.".to_string())
    } else if transcription["language"].as_str().is_none_or(str::is_empty) {
        // OpenAI does not require a language, but sicha always sends one: its absence is a bug here.
        Some("the stand-in expects session.audio.input.transcription.language".to_string())
    } else if input.get("turn_detection") != Some(&Value::Null) {
        Some(
            "the stand-in commits only on input_audio_buffer.commit: set \
             session.audio.input.turn_detection to null"
                .to_string(),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(kind: &str, format: &str, turn_detection: Option<Value>) -> Value {
        let mut input = json!({
            "format": {"type": format},
            "transcription": {"model": "gpt-4o-transcribe", "language": "he"},
        });
        if let Some(turn_detection) = turn_detection {
            input["turn_detection"] = turn_detection;
        }
        json!({"type": kind, "audio": {"input": input}})
    }

    #[test]
    fn only_a_mulaw_transcription_session_without_turn_detection_is_accepted() {
        let accepted = session("transcription", "audio/pcmu", Some(Value::Null));
        assert_eq!(refusal_of(&accepted), None);
        let refused = [
            session("realtime", "audio/pcmu", Some(Value::Null)),
            session("transcription", "audio/pcm", Some(Value::Null)),
            session(
                "transcription",
                "audio/pcmu",
                Some(json!({"type": "server_vad"})),
            ),
            session("transcription", "audio/pcmu", None),
        ];
        for session in refused {
            assert!(refusal_of(&session).is_some(), "{session}");
        }
        let mut no_language = accepted.clone();
        no_language["audio"]["input"]["transcription"]["language"] = Value::Null;
        assert!(refusal_of(&no_language).unwrap().contains("language"));
    }
}
